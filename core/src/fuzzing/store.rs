//! A [`MemStore`] the target can read while the relay owns it, so every step can compare what
//! is persisted before and after without taking the relay apart.

use std::cell::RefCell;
use std::rc::Rc;

use crate::store::{ChunkKind, ChunkStore, MemStore, MemStoreError};

#[derive(Debug, Clone, Default)]
pub(super) struct SharedStore(Rc<RefCell<MemStore>>);

impl SharedStore {
    pub(super) fn new(store: MemStore) -> Self {
        Self(Rc::new(RefCell::new(store)))
    }

    /// Every stored chunk, byte for byte.
    pub(super) fn chunks(&self) -> Vec<(ChunkKind, Vec<u8>)> {
        self.0.borrow().chunks.clone()
    }

    /// An independent copy, for reopening without touching the live one.
    pub(super) fn copy(&self) -> MemStore {
        self.0.borrow().clone()
    }
}

impl ChunkStore for SharedStore {
    type Error = MemStoreError;

    fn load(&mut self) -> Result<Vec<(ChunkKind, Vec<u8>)>, MemStoreError> {
        self.0.borrow_mut().load()
    }

    fn append(&mut self, chunk: &[u8]) -> Result<(), MemStoreError> {
        self.0.borrow_mut().append(chunk)
    }

    fn replace_all(&mut self, snapshot: &[&[u8]]) -> Result<(), MemStoreError> {
        self.0.borrow_mut().replace_all(snapshot)
    }
}
