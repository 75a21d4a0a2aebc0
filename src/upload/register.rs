//! Registering assets exactly once, on any hub. On a hub with idempotent upload IDs (ours) a
//! registration is simply sent again until it is answered. On a hub without them (Ango Hub) a
//! repeat would make a second asset, so each chunk is written to the [`Receipt`] as *sent*,
//! with the project's newest asset just before it, and never sent blindly again: when its
//! answer is lost, the assets newer than that mark are listed and matched by external ID and
//! data, and only what is not there is sent again. A run that died leaves its chunk *sent*;
//! the next run settles it the same way before anything else.

use std::collections::{HashMap, HashSet};

use reqwest::Method;
use serde_json::Value;

use super::client::{registration_request, HubClient, Unsure};
use super::receipt::{fingerprint, Item, Receipt};
use crate::error::{Error, ErrorCode};
use crate::wire::{self, AssetFilter, Extension, RegisterAnswer};

/// One asset to register, with the key that makes it the same item on every run.
#[derive(Debug, Clone)]
pub struct Registrable {
    /// The item's key: its derived upload ID.
    pub key: String,
    /// BLAKE3 of its file's bytes, for uploaded files.
    pub content_hash: Option<String>,
    /// The asset as the API takes it (with `uploadId`, sent only to a hub that knows it).
    pub asset: Value,
}

impl Registrable {
    fn external_id(&self) -> &str {
        self.asset
            .get("externalId")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    fn data(&self) -> String {
        match self.asset.get("data") {
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => self
                .asset
                .get("dataset")
                .map(Value::to_string)
                .unwrap_or_default(),
        }
    }

    fn item(&self) -> Item {
        Item {
            key: self.key.clone(),
            external_id: self.external_id().to_owned(),
            content_hash: self.content_hash.clone(),
            data: fingerprint(&self.data()),
        }
    }
}

/// What registering a chunk did.
#[derive(Debug, Clone, Default)]
pub struct Chunk {
    /// The asset of each item, in order, when the hub said (or a lookup found) it.
    pub asset_ids: Vec<Option<String>>,
    /// How many assets are new.
    pub created: u64,
}

/// Registers into one project.
#[derive(Debug)]
pub struct Registration<'a> {
    client: &'a HubClient,
    project: &'a str,
    batches: &'a [String],
    upload_local: bool,
    priority: i64,
}

/// The item an asset of a listing is, by external ID and data.
fn listing_key(a: &wire::Asset) -> (String, String) {
    (
        a.external_id.clone(),
        fingerprint(a.data.as_deref().unwrap_or_default()),
    )
}

impl<'a> Registration<'a> {
    /// Registration into `project`; `batches` (names or IDs) apply to assets without their own.
    pub fn new(
        client: &'a HubClient,
        project: &'a str,
        batches: &'a [String],
        upload_local: bool,
        priority: i64,
    ) -> Self {
        Self {
            client,
            project,
            batches,
            upload_local,
            priority,
        }
    }

    /// Whether the item `key` is registered already by this computer's receipt, on a hub where
    /// that matters (one without idempotent upload IDs; ours recognises a repeat itself).
    pub async fn recorded(&self, key: &str) -> Result<bool, Error> {
        if self.client.has(Extension::UploadIds).await? {
            return Ok(false);
        }
        let receipt = self.client.receipt().await?;
        Ok(receipt
            .get(self.project, key)?
            .is_some_and(|e| e.state == super::receipt::State::Registered))
    }

    /// Settles what an earlier run left *sent* in this project: each item is looked for among
    /// the assets newer than its mark, recorded as registered when found, forgotten otherwise
    /// (so it is sent again). Returns how many were found.
    pub async fn settle(&self) -> Result<usize, Error> {
        if self.client.has(Extension::UploadIds).await? {
            return Ok(0);
        }
        let receipt = self.client.receipt().await?;
        let unsettled = receipt.unsettled(self.project)?;
        let mut by_mark: HashMap<Option<String>, Vec<Item>> = HashMap::new();
        for e in unsettled {
            by_mark.entry(e.mark.clone()).or_default().push(Item {
                key: e.key,
                external_id: e.external_id,
                content_hash: e.content_hash,
                data: e.data,
            });
        }
        let mut found = 0;
        for (mark, items) in by_mark {
            let ids = self.find(&items, mark.as_deref()).await?;
            let registered: Vec<(&Item, Option<&str>)> = items
                .iter()
                .zip(&ids)
                .filter_map(|(i, id)| id.as_deref().map(|id| (i, Some(id))))
                .collect();
            found += registered.len();
            receipt.registered(self.project, &registered)?;
            let missing: Vec<String> = items
                .iter()
                .zip(&ids)
                .filter(|(_, id)| id.is_none())
                .map(|(i, _)| i.key.clone())
                .collect();
            receipt.forget(self.project, &missing)?;
        }
        Ok(found)
    }

    /// Registers `items` (one request, or a few when answers are lost) and records them in the
    /// receipt. An error leaves nothing registered twice: what may have been registered stays
    /// *sent* in the receipt for the next run to settle.
    pub async fn register(&self, items: &[Registrable]) -> Result<Chunk, Error> {
        if items.is_empty() {
            return Ok(Chunk::default());
        }
        let receipt = self.client.receipt().await?;
        let keep_upload_ids = self.client.has(Extension::UploadIds).await?;
        if keep_upload_ids {
            return self.register_idempotent(items, &receipt).await;
        }
        let receipt_items: Vec<Item> = items.iter().map(Registrable::item).collect();
        let mark = self.newest_asset().await?;
        receipt.sending(
            self.project,
            &receipt_items.iter().collect::<Vec<_>>(),
            mark.as_deref(),
        )?;
        let mut out = Chunk {
            asset_ids: vec![None; items.len()],
            created: 0,
        };
        let mut left: Vec<usize> = (0..items.len()).collect();
        let mut lost = 0;
        loop {
            let assets: Vec<Value> = left
                .iter()
                .map(|&i| {
                    let mut a = items[i].asset.clone();
                    if let Some(m) = a.as_object_mut() {
                        m.remove("uploadId");
                    }
                    a
                })
                .collect();
            let (path, body) = registration_request(
                self.project,
                &assets,
                self.batches,
                self.upload_local,
                self.priority,
            );
            match self
                .client
                .call_unsure(Method::POST, &path, Some(&body))
                .await
            {
                Ok(data) => {
                    let answer: Option<RegisterAnswer> = serde_json::from_value(data).ok();
                    let done: Vec<(&Item, Option<&str>)> =
                        left.iter().map(|&i| (&receipt_items[i], None)).collect();
                    receipt.registered(self.project, &done)?;
                    out.created += answer
                        .and_then(|a| a.created())
                        .unwrap_or(left.len() as u64);
                    return Ok(out);
                }
                Err(Unsure::NotDone(e)) => {
                    let keys: Vec<String> =
                        left.iter().map(|&i| receipt_items[i].key.clone()).collect();
                    receipt.forget(self.project, &keys)?;
                    return Err(e);
                }
                Err(Unsure::Unknown(e)) => {
                    lost += 1;
                    tracing::debug!("registration answer lost ({e}); looking at the project");
                    let wanted: Vec<Item> =
                        left.iter().map(|&i| receipt_items[i].clone()).collect();
                    let found = self.find(&wanted, mark.as_deref()).await?;
                    let mut done = Vec::new();
                    let mut still = Vec::new();
                    for (&i, id) in left.iter().zip(found) {
                        match id {
                            Some(id) => {
                                out.asset_ids[i] = Some(id);
                                done.push(i);
                            }
                            None => still.push(i),
                        }
                    }
                    let recorded: Vec<(&Item, Option<&str>)> = done
                        .iter()
                        .map(|&i| (&receipt_items[i], out.asset_ids[i].as_deref()))
                        .collect();
                    receipt.registered(self.project, &recorded)?;
                    out.created += done.len() as u64;
                    left = still;
                    if left.is_empty() {
                        return Ok(out);
                    }
                    if lost > self.client.retry_policy().max_retries {
                        return Err(e);
                    }
                    tokio::time::sleep(self.client.retry_policy().backoff(lost - 1)).await;
                }
            }
        }
    }

    /// Our hub: upload IDs make a repeat harmless, and the answer names the assets.
    async fn register_idempotent(
        &self,
        items: &[Registrable],
        receipt: &Receipt,
    ) -> Result<Chunk, Error> {
        let assets: Vec<Value> = items.iter().map(|r| r.asset.clone()).collect();
        let reg = self
            .client
            .register(
                self.project,
                &assets,
                self.batches,
                self.upload_local,
                self.priority,
            )
            .await?;
        let asset_ids = match reg.asset_ids {
            Some(ids) if ids.len() == items.len() => ids.into_iter().map(Some).collect(),
            Some(ids) => {
                return Err(Error::new(
                    ErrorCode::Internal,
                    format!(
                        "the hub registered {} assets for {} sent",
                        ids.len(),
                        items.len()
                    ),
                ))
            }
            None => vec![None; items.len()],
        };
        let receipt_items: Vec<Item> = items.iter().map(Registrable::item).collect();
        let done: Vec<(&Item, Option<&str>)> = receipt_items
            .iter()
            .zip(&asset_ids)
            .map(|(i, id)| (i, id.as_deref()))
            .collect();
        receipt.registered(self.project, &done)?;
        Ok(Chunk {
            asset_ids,
            created: reg.created.unwrap_or(items.len() as u64),
        })
    }

    /// The project's newest asset, if it has any.
    async fn newest_asset(&self) -> Result<Option<String>, Error> {
        let page = self
            .client
            .assets_page(self.project, 1, 1, &AssetFilter::default())
            .await?;
        Ok(page.assets.into_iter().next().map(|a| a.id))
    }

    /// For each item, an asset of the project newer than `mark` with its external ID and data,
    /// each asset matched once. Lists newest first, 100 a page, down to the mark.
    async fn find(&self, items: &[Item], mark: Option<&str>) -> Result<Vec<Option<String>>, Error> {
        let wanted: HashSet<(String, String)> = items
            .iter()
            .map(|i| (i.external_id.clone(), i.data.clone()))
            .collect();
        let mut candidates: HashMap<(String, String), Vec<String>> = HashMap::new();
        let mut seen: HashSet<String> = HashSet::new();
        let mut page = 1;
        'pages: loop {
            let got = self
                .client
                .assets_page(self.project, page, wire::MAX_PAGE, &AssetFilter::default())
                .await?;
            let n = got.assets.len() as u64;
            for a in got.assets {
                if Some(a.id.as_str()) == mark {
                    break 'pages;
                }
                if !seen.insert(a.id.clone()) {
                    continue;
                }
                let k = listing_key(&a);
                if wanted.contains(&k) {
                    candidates.entry(k).or_default().push(a.id);
                }
            }
            if n < wire::MAX_PAGE || page * wire::MAX_PAGE >= got.total {
                break;
            }
            page += 1;
        }
        Ok(items
            .iter()
            .map(|i| {
                candidates
                    .get_mut(&(i.external_id.clone(), i.data.clone()))
                    .and_then(Vec::pop)
            })
            .collect())
    }
}
