//! Encryption at rest: every stored chunk sealed with AES-256-GCM.
//!
//! - [`master_keys`]: the `EDGEDESK_MASTER_KEYS` secret (key ids and keys, first is current).
//! - [`data_key`]: one random data key per conversation, stored only wrapped by a master key
//!   with that key's id, so master keys rotate without re-encrypting history, and replacing
//!   the record by a tombstone crypto-shreds the conversation.
//! - [`chunk_cipher`]: seals a chunk for its place (conversation, document, row, kind), and
//!   other per-conversation records (queued webhook bodies) for their identity.
//! - [`sealed_store`]: [`EncryptedStore`], the [`crate::store::ChunkStore`] the relay's
//!   [`crate::store::Persister`] writes through, over a raw store of sealed rows.
//! - [`value_cipher`]: seals single values (a workspace's configuration) for their owner
//!   and label, with a data key made and wrapped like a conversation's.
//! - [`blind_index`]: keyed hashes standing in for words in a full-text index (the inbox's
//!   search), so the index holds no plaintext.
//!
//! Stored format of every sealed value: `[version = 1][96-bit random nonce][ciphertext][tag]`.
//! Randomness comes from getrandom; nothing here does I/O.

mod aead;
pub mod blind_index;
pub mod chunk_cipher;
pub mod data_key;
pub mod master_keys;
pub mod sealed_store;
pub mod value_cipher;

pub use aead::{EntropyError, OVERHEAD};
pub use blind_index::BlindIndex;
pub use chunk_cipher::{ChunkCipher, ChunkError, ChunkPlace, RecordError};
pub use data_key::{erase, open_data_key, DataKey, KeyError, KeyRecord, OpenedKey};
pub use master_keys::{MasterKey, MasterKeyError, MasterKeys, MASTER_KEYS_VAR};
pub use sealed_store::{EncryptedStore, SealedChunk, SealedChunkStore, SealedStoreError};
pub use value_cipher::{ValueCipher, ValueError};
