//! The replicas in IndexedDB: one object store of rows (`{r: replica, k: "s"|"i", b: bytes}`)
//! under keys from IndexedDB's generator, with an index by replica. Every batch of a
//! [`JournalStore`](crate::journal_store::JournalStore) is one readwrite transaction, so a tab
//! closed mid-write leaves the batch whole or absent.
//!
//! A second store, `uploads`, holds the files waiting to be uploaded (`super::uploads`):
//! one record per attachment id, with the file as a `Blob`.

use edgedesk_core::store::ChunkKind;
use js_sys::{Array, Object, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{
    IdbDatabase, IdbFactory, IdbIndexParameters, IdbKeyRange, IdbObjectStoreParameters,
    IdbOpenDbRequest, IdbRequest, IdbTransaction, IdbTransactionMode,
};

use super::js::{describe, error, settle};
use crate::journal_store::{Flush, Row};

const DB_NAME: &str = "edgedesk";
/// 2 added the `uploads` store.
const DB_VERSION: u32 = 2;
const STORE: &str = "chunks";
const UPLOADS: &str = "uploads";
const BY_REPLICA: &str = "replica";

pub struct Idb {
    db: IdbDatabase,
}

fn idb_error(what: &str) -> impl Fn(JsValue) -> JsValue + '_ {
    move |e| error(format!("IndexedDB could not {what}: {}", describe(&e)))
}

impl Idb {
    pub async fn open() -> Result<Idb, JsValue> {
        let factory: IdbFactory = Reflect::get(&js_sys::global(), &"indexedDB".into())
            .ok()
            .filter(|f| !f.is_undefined() && !f.is_null())
            .ok_or_else(|| {
                error("this browser context has no IndexedDB (private mode or a sandboxed frame?)")
            })?
            .unchecked_into();
        let request: IdbOpenDbRequest =
            factory.open_with_u32(DB_NAME, DB_VERSION).map_err(idb_error("open the database"))?;
        let upgrade = Closure::<dyn FnMut(JsValue)>::new({
            let request = request.clone();
            move |_| {
                let Ok(db) = request.result().and_then(|r| r.dyn_into::<IdbDatabase>()) else {
                    return;
                };
                let params = IdbObjectStoreParameters::new();
                params.set_auto_increment(true);
                // Each creation fails harmlessly when an earlier version made the store.
                if let Ok(store) = db.create_object_store_with_optional_parameters(STORE, &params) {
                    let _ = store.create_index_with_str_and_optional_parameters(
                        BY_REPLICA,
                        "r",
                        &IdbIndexParameters::new(),
                    );
                }
                let _ = db.create_object_store(UPLOADS);
            }
        });
        request.set_onupgradeneeded(Some(upgrade.as_ref().unchecked_ref()));
        let opened = settle(|ok, err| {
            request.set_onsuccess(Some(ok));
            request.set_onerror(Some(err));
            request.set_onblocked(Some(err));
        })
        .await;
        request.set_onupgradeneeded(None);
        opened.map_err(idb_error("open the database"))?;
        let db = request.result().map_err(idb_error("open the database"))?.unchecked_into();
        Ok(Idb { db })
    }

    /// Every row of `replica`, in key order.
    pub async fn load(&self, replica: &str) -> Result<Vec<Row>, JsValue> {
        let tx = self
            .db
            .transaction_with_str_and_mode(STORE, IdbTransactionMode::Readonly)
            .map_err(idb_error("read"))?;
        let index =
            tx.object_store(STORE).and_then(|s| s.index(BY_REPLICA)).map_err(idb_error("read"))?;
        let only = IdbKeyRange::only(&replica.into()).map_err(idb_error("read"))?;
        let values = index.get_all_with_key(&only).map_err(idb_error("read"))?;
        let keys = index.get_all_keys_with_key(&only).map_err(idb_error("read"))?;
        done(&tx).await.map_err(idb_error("read the replica"))?;
        let (values, keys) = (result_array(&values)?, result_array(&keys)?);
        let mut rows = Vec::with_capacity(values.length() as usize);
        for (value, key) in values.iter().zip(keys.iter()) {
            let key = key.as_f64().ok_or_else(|| error("IndexedDB returned a non-numeric key"))?;
            let kind = match Reflect::get(&value, &"k".into())?.as_string().as_deref() {
                Some("s") => ChunkKind::Snapshot,
                _ => ChunkKind::Increment,
            };
            let bytes: Uint8Array = Reflect::get(&value, &"b".into())?.dyn_into()?;
            rows.push((key as u64, kind, bytes.to_vec()));
        }
        Ok(rows)
    }

    /// Carries out flushes of several replicas in one transaction; the new keys of each.
    pub async fn commit(&self, flushes: &[(&str, &Flush)]) -> Result<Vec<Vec<u64>>, JsValue> {
        let tx = self
            .db
            .transaction_with_str_and_mode(STORE, IdbTransactionMode::Readwrite)
            .map_err(idb_error("write"))?;
        let store = tx.object_store(STORE).map_err(idb_error("write"))?;
        let mut requests: Vec<Vec<IdbRequest>> = Vec::new();
        for (replica, flush) in flushes {
            for key in &flush.delete {
                store.delete(&(*key as f64).into()).map_err(idb_error("write"))?;
            }
            let mut added = Vec::new();
            for (kind, bytes) in &flush.add {
                let row = Object::new();
                Reflect::set(&row, &"r".into(), &(*replica).into())?;
                let k = if *kind == ChunkKind::Snapshot { "s" } else { "i" };
                Reflect::set(&row, &"k".into(), &k.into())?;
                Reflect::set(&row, &"b".into(), &Uint8Array::from(bytes.as_slice()))?;
                added.push(store.add(&row).map_err(idb_error("write"))?);
            }
            requests.push(added);
        }
        done(&tx).await.map_err(idb_error("save the replica"))?;
        requests
            .into_iter()
            .map(|added| {
                added
                    .iter()
                    .map(|r| {
                        r.result()
                            .ok()
                            .and_then(|k| k.as_f64())
                            .map(|k| k as u64)
                            .ok_or_else(|| error("IndexedDB returned a non-numeric key"))
                    })
                    .collect()
            })
            .collect()
    }
}

impl Idb {
    /// Stores (or replaces) the upload record under `key`, durably.
    pub async fn put_upload(&self, key: &str, record: &JsValue) -> Result<(), JsValue> {
        let tx = self
            .db
            .transaction_with_str_and_mode(UPLOADS, IdbTransactionMode::Readwrite)
            .map_err(idb_error("write"))?;
        let store = tx.object_store(UPLOADS).map_err(idb_error("write"))?;
        store.put_with_key(record, &key.into()).map_err(idb_error("write"))?;
        done(&tx).await.map_err(idb_error("save the upload"))
    }

    pub async fn delete_upload(&self, key: &str) -> Result<(), JsValue> {
        let tx = self
            .db
            .transaction_with_str_and_mode(UPLOADS, IdbTransactionMode::Readwrite)
            .map_err(idb_error("write"))?;
        let store = tx.object_store(UPLOADS).map_err(idb_error("write"))?;
        store.delete(&key.into()).map_err(idb_error("write"))?;
        done(&tx).await.map_err(idb_error("forget the upload"))
    }

    /// Every upload record whose `r` is `replica`, oldest key first.
    pub async fn uploads(&self, replica: &str) -> Result<Vec<JsValue>, JsValue> {
        let tx = self
            .db
            .transaction_with_str_and_mode(UPLOADS, IdbTransactionMode::Readonly)
            .map_err(idb_error("read"))?;
        let all = tx.object_store(UPLOADS).and_then(|s| s.get_all()).map_err(idb_error("read"))?;
        done(&tx).await.map_err(idb_error("read the uploads"))?;
        Ok(result_array(&all)?
            .iter()
            .filter(|v| {
                Reflect::get(v, &"r".into()).ok().and_then(|r| r.as_string()).as_deref()
                    == Some(replica)
            })
            .collect())
    }
}

/// Waits for a transaction to commit (or fail: an error or an abort).
async fn done(tx: &IdbTransaction) -> Result<(), JsValue> {
    let outcome = settle(|ok, err| {
        tx.set_oncomplete(Some(ok));
        tx.set_onerror(Some(err));
        tx.set_onabort(Some(err));
    })
    .await;
    tx.set_oncomplete(None);
    tx.set_onerror(None);
    tx.set_onabort(None);
    outcome.map(|_| ()).map_err(|e| match tx.error() {
        Some(dom) => JsValue::from(dom),
        None => e,
    })
}

fn result_array(request: &IdbRequest) -> Result<Array, JsValue> {
    request
        .result()
        .map_err(idb_error("read"))?
        .dyn_into::<Array>()
        .map_err(|_| error("IndexedDB returned no rows"))
}
