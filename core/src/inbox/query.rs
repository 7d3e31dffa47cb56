//! (being written: see /work/notes/issue5.md)
