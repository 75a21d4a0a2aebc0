//! Storage integrations reaching real buckets: an `object_store` client (S3, GCS, Azure) is built
//! from a catalog entry and its credentials, asset URLs are mapped to bucket objects and back, and
//! objects are listed, checked and presigned. Clients are cached per storage and bucket, and every
//! remote failure is reported with URLs stripped of their query strings (SAS tokens, signatures).

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use object_store::aws::AmazonS3Builder;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::list::{PaginatedListOptions, PaginatedListStore};
use object_store::path::Path as ObjectPath;
use object_store::signer::{Method, Signer};
use object_store::{BackoffConfig, ClientOptions, ObjectMeta, ObjectStore, RetryConfig};
use serde::Serialize;
use serde_json::Value;
use url::Url;

use super::catalog::{NewStorage, Provider, Storage, StorageSecret};

/// The longest presigned URL S3 and GCS accept (7 days).
pub const MAX_SIGNED_URL_SECS: u64 = 604_800;
/// Most entries one listing page returns.
pub const MAX_LIST_LIMIT: usize = 1000;

/// What kind of failure a storage operation met; the HTTP layer maps it to a status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The request or the storage's settings are wrong (a URL outside the storage, a bad key).
    Invalid,
    /// The object or bucket does not exist.
    NotFound,
    /// The storage refused the credentials or the operation.
    Denied,
    /// The storage could not be reached or answered with an error.
    Unreachable,
    /// The provider or credential type cannot do this.
    Unsupported,
}

/// A storage operation that failed; the message names the storage and never holds a secret.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct StorageError {
    /// What kind of failure.
    pub failure: Failure,
    /// What failed, and how to fix it when we know.
    pub message: String,
}

impl StorageError {
    fn new(failure: Failure, message: impl Into<String>) -> Self {
        Self {
            failure,
            message: message.into(),
        }
    }
}

/// Replaces the query string of every URL inside `text` with `?<redacted>`: `object_store`
/// errors quote request URLs, and those carry SAS tokens or signatures.
pub fn redact_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    loop {
        let next = ["http://", "https://"]
            .iter()
            .filter_map(|p| rest.find(p))
            .min();
        let Some(start) = next else {
            out.push_str(rest);
            return out;
        };
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        let end = tail
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '>' | ')' | ','))
            .unwrap_or(tail.len());
        let url = &tail[..end];
        match url.find('?') {
            Some(q) => {
                out.push_str(&url[..q]);
                out.push_str("?<redacted>");
            }
            None => out.push_str(url),
        }
        rest = &tail[end..];
    }
}

/// How a storage authenticates. `Debug` shows only the kind.
#[derive(Clone)]
enum Credentials {
    Aws {
        key_id: String,
        secret: String,
        token: Option<String>,
    },
    Gcs {
        service_account: String,
    },
    AzureKey {
        account: String,
        key: String,
    },
    AzureSas {
        account: String,
        sas: Vec<(String, String)>,
    },
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Aws { .. } => "Aws(<redacted>)",
            Self::Gcs { .. } => "Gcs(<redacted>)",
            Self::AzureKey { .. } => "AzureKey(<redacted>)",
            Self::AzureSas { .. } => "AzureSas(<redacted>)",
        })
    }
}

/// A storage integration ready to reach its buckets: where it lives and how to get in.
#[derive(Debug, Clone)]
pub struct Remote {
    /// The catalog entry (no credentials).
    pub storage: Storage,
    provider: Provider,
    region: String,
    endpoint: Option<Url>,
    path_style: bool,
    credentials: Credentials,
}

/// An object of a storage: its bucket (or container) and key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// Bucket or container.
    pub bucket: String,
    /// Object key, as stored (not percent-encoded).
    pub key: String,
}

/// One file of a listing.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListedFile {
    /// Full key in the bucket.
    pub key: String,
    /// The last part of the key.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// Last modification, RFC 3339.
    pub last_modified: String,
    /// Entity tag, when the storage gives one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub e_tag: Option<String>,
    /// The object's URL: what an asset's `data` holds (with `storage` set) to reference it.
    pub url: String,
    /// A presigned GET URL, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signed_url: Option<String>,
}

/// One folder (common prefix) of a listing.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListedFolder {
    /// The folder's prefix, ending with `/`.
    pub key: String,
    /// The folder's own name.
    pub name: String,
}

/// One page of a bucket listing.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Listing {
    /// The bucket listed.
    pub bucket: String,
    /// The prefix listed (empty for the bucket's top).
    pub path: String,
    /// Files directly under the prefix.
    pub files: Vec<ListedFile>,
    /// Folders directly under the prefix.
    pub folders: Vec<ListedFolder>,
    /// Pass as `scrollToken` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scroll_token: Option<String>,
}

fn secret_str(secret: &Value, keys: &[&str]) -> Option<String> {
    let creds = secret.get("credentials");
    for k in keys {
        for v in [secret.get(*k), creds.and_then(|c| c.get(*k))] {
            if let Some(s) = v.and_then(Value::as_str).filter(|s| !s.is_empty()) {
                return Some(s.to_owned());
            }
        }
    }
    None
}

/// Splits a SAS token (`sv=...&sig=...`, with or without a leading `?`) into query pairs.
fn sas_pairs(sas: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(sas.trim_start_matches('?').as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The service-account key JSON of a GCP storage: `credentials` as a JSON string or object, or
/// `privateKey` holding the whole JSON, or `privateKey` (PEM) with `publicKey` as the email.
fn service_account(secret: &Value) -> Option<String> {
    let from_text = |s: &str| {
        serde_json::from_str::<Value>(s)
            .ok()
            .filter(Value::is_object)
    };
    let mut key = match secret.get("credentials") {
        Some(Value::String(s)) => from_text(s),
        Some(v @ Value::Object(o)) if !o.is_empty() => Some(v.clone()),
        _ => None,
    };
    let private = secret.get("privateKey").and_then(Value::as_str);
    if key.is_none() {
        key = private.and_then(from_text);
    }
    if key.is_none() {
        if let (Some(pem), Some(email)) = (private, secret.get("publicKey").and_then(Value::as_str))
        {
            key = Some(serde_json::json!({"private_key": pem, "client_email": email}));
        }
    }
    let mut key = key?;
    if let (Some(obj), Some(pem)) = (key.as_object_mut(), private) {
        if !obj.contains_key("private_key") && pem.contains("PRIVATE KEY") {
            obj.insert("private_key".into(), Value::String(pem.to_owned()));
        }
    }
    // object_store requires `private_key_id`; a key pasted without it still signs.
    if let Some(obj) = key.as_object_mut() {
        obj.entry("private_key_id")
            .or_insert_with(|| Value::String(String::new()));
    }
    Some(key.to_string())
}

/// Percent-encodes each `/`-separated part of a key for a URL path.
fn encode_key(key: &str) -> String {
    key.split('/')
        .map(|s| percent_encoding::utf8_percent_encode(s, KEY_PART).to_string())
        .collect::<Vec<_>>()
        .join("/")
}

/// Characters escaped in one key part of an object URL (everything but RFC 3986 unreserved).
const KEY_PART: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

fn decode(part: &str) -> Option<String> {
    percent_encoding::percent_decode_str(part)
        .decode_utf8()
        .ok()
        .map(Cow::into_owned)
}

fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str().map(str::to_ascii_lowercase) == b.host_str().map(str::to_ascii_lowercase)
        && a.port_or_known_default() == b.port_or_known_default()
}

impl Remote {
    /// Reads a catalog entry and its credentials; `Invalid` names what is missing.
    pub fn new(storage: Storage, secret: &StorageSecret) -> Result<Self, StorageError> {
        let id = storage.id.clone();
        let invalid = |m: &str| StorageError::new(Failure::Invalid, format!("storage {id}: {m}"));
        let provider =
            Provider::from_rest_name(&storage.kind).ok_or_else(|| invalid("unknown provider"))?;
        let endpoint = match storage.endpoint.as_deref() {
            None => None,
            Some(e) => {
                let u = Url::parse(e).map_err(|_| invalid("`endpoint` is not a URL"))?;
                if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none() {
                    return Err(invalid("`endpoint` must be an http(s) URL with a host"));
                }
                Some(u)
            }
        };
        let s = &secret.0;
        let credentials = match provider {
            Provider::Aws => Credentials::Aws {
                key_id: secret_str(s, &["publicKey", "accessKeyId"]).ok_or_else(|| {
                    invalid("the access key ID is missing (`publicKey` or `credentials.accessKeyId`)")
                })?,
                secret: secret_str(s, &["privateKey", "secretAccessKey"]).ok_or_else(|| {
                    invalid("the secret access key is missing (`privateKey` or `credentials.secretAccessKey`)")
                })?,
                token: secret_str(s, &["sessionToken"]),
            },
            Provider::Gcs => Credentials::Gcs {
                service_account: service_account(s).ok_or_else(|| {
                    invalid("the service-account key JSON is missing or not JSON (`credentials`)")
                })?,
            },
            Provider::Azure => {
                let account = secret_str(s, &["publicKey", "accountName", "account"])
                    .ok_or_else(|| {
                        invalid("the account name is missing (`publicKey` or `credentials.accountName`)")
                    })?;
                let sas = secret_str(s, &["sasToken", "sas"]).or_else(|| {
                    s.get("credentials")
                        .and_then(Value::as_str)
                        .filter(|c| c.contains("sig="))
                        .map(str::to_owned)
                });
                match (secret_str(s, &["privateKey", "accountKey"]), sas) {
                    (Some(key), _) => Credentials::AzureKey { account, key },
                    (None, Some(sas)) => Credentials::AzureSas {
                        account,
                        sas: sas_pairs(&sas),
                    },
                    (None, None) => {
                        return Err(invalid(
                            "the account key (`privateKey` or `credentials.accountKey`) or a SAS token (`credentials.sasToken`) is missing",
                        ))
                    }
                }
            }
        };
        Ok(Self {
            region: storage
                .region
                .clone()
                .unwrap_or_else(|| "us-east-1".to_owned()),
            path_style: storage.path_style.unwrap_or(endpoint.is_some()),
            storage,
            provider,
            endpoint,
            credentials,
        })
    }

    fn id(&self) -> &str {
        &self.storage.id
    }

    fn invalid(&self, m: impl std::fmt::Display) -> StorageError {
        StorageError::new(Failure::Invalid, format!("storage {}: {m}", self.id()))
    }

    fn azure_account(&self) -> &str {
        match &self.credentials {
            Credentials::AzureKey { account, .. } | Credentials::AzureSas { account, .. } => {
                account
            }
            _ => "",
        }
    }

    /// The bucket to use: the one asked for, or the storage's own.
    pub fn bucket_or_default(&self, asked: Option<&str>) -> Result<String, StorageError> {
        match asked.filter(|b| !b.is_empty()) {
            Some(b) => Ok(b.to_owned()),
            None => self.storage.bucket.clone().ok_or_else(|| {
                self.invalid("it has no bucket of its own: name one (`bucketName`)")
            }),
        }
    }

    /// The URL of an object, as an asset's `data` refers to it (`locate` reads it back).
    pub fn object_url(&self, bucket: &str, key: &str) -> String {
        let key = encode_key(key);
        let bucket_enc = encode_key(bucket);
        match (&self.provider, &self.endpoint) {
            (Provider::Aws, Some(e)) if !self.path_style => {
                let host = e.host_str().unwrap_or_default();
                let port = e.port().map(|p| format!(":{p}")).unwrap_or_default();
                let path = e.path().trim_end_matches('/');
                format!("{}://{bucket}.{host}{port}{path}/{key}", e.scheme())
            }
            (_, Some(e)) => format!("{}/{bucket_enc}/{key}", e.as_str().trim_end_matches('/')),
            (Provider::Aws, None) if self.path_style => {
                format!(
                    "https://s3.{}.amazonaws.com/{bucket_enc}/{key}",
                    self.region
                )
            }
            (Provider::Aws, None) => {
                format!("https://{bucket}.s3.{}.amazonaws.com/{key}", self.region)
            }
            (Provider::Gcs, None) => format!("https://storage.googleapis.com/{bucket_enc}/{key}"),
            (Provider::Azure, None) => format!(
                "https://{}.blob.core.windows.net/{bucket_enc}/{key}",
                self.azure_account()
            ),
        }
    }

    fn expected_form(&self) -> String {
        let example = self.object_url("BUCKET", "KEY");
        let scheme = match self.provider {
            Provider::Aws => "s3",
            Provider::Gcs => "gs",
            Provider::Azure => "az",
        };
        format!("{example} or {scheme}://BUCKET/KEY")
    }

    /// The bucket and key an asset URL points at, or `Invalid` saying which URLs this storage
    /// serves. Query strings (`?storageId=`) and fragments are ignored.
    pub fn locate(&self, url: &str) -> Result<Located, StorageError> {
        let outside = || {
            self.invalid(format!(
                "{} is not an object of this {} storage; expected {}",
                redact_urls(url),
                self.provider.sdk_name(),
                self.expected_form()
            ))
        };
        let u = Url::parse(url).map_err(|_| outside())?;
        let path = u.path();
        let split_path = |rest: &str| -> Option<Located> {
            let (bucket, key) = rest.split_once('/')?;
            Some(Located {
                bucket: decode(bucket)?,
                key: decode(key)?,
            })
        };
        let found = match u.scheme() {
            "s3" | "s3a" if self.provider == Provider::Aws => Some(Located {
                bucket: u.host_str().unwrap_or_default().to_owned(),
                key: decode(path.trim_start_matches('/')).unwrap_or_default(),
            }),
            "gs" if self.provider == Provider::Gcs => Some(Located {
                bucket: u.host_str().unwrap_or_default().to_owned(),
                key: decode(path.trim_start_matches('/')).unwrap_or_default(),
            }),
            "az" | "azure" if self.provider == Provider::Azure => Some(Located {
                bucket: u.host_str().unwrap_or_default().to_owned(),
                key: decode(path.trim_start_matches('/')).unwrap_or_default(),
            }),
            "http" | "https" => self.locate_http(&u, &split_path),
            _ => None,
        };
        let found = found.ok_or_else(outside)?;
        if found.bucket.is_empty() {
            return Err(outside());
        }
        if found.key.is_empty() || found.key.ends_with('/') {
            return Err(self.invalid(format!(
                "{} names a bucket or folder, not an object",
                redact_urls(url)
            )));
        }
        Ok(found)
    }

    fn locate_http(
        &self,
        u: &Url,
        split_path: &dyn Fn(&str) -> Option<Located>,
    ) -> Option<Located> {
        let host = u.host_str()?.to_ascii_lowercase();
        let path = u.path();
        if let Some(e) = &self.endpoint {
            let base = e.path().trim_end_matches('/');
            if self.provider == Provider::Aws && !self.path_style {
                let ehost = e.host_str()?.to_ascii_lowercase();
                let bucket = host.strip_suffix(&format!(".{ehost}"))?;
                if u.scheme() != e.scheme()
                    || u.port_or_known_default() != e.port_or_known_default()
                {
                    return None;
                }
                let key = path.strip_prefix(base)?.strip_prefix('/')?;
                return Some(Located {
                    bucket: bucket.to_owned(),
                    key: decode(key)?,
                });
            }
            if !same_origin(u, e) {
                return None;
            }
            return split_path(path.strip_prefix(base)?.strip_prefix('/')?);
        }
        let rest = path.strip_prefix('/')?;
        match self.provider {
            Provider::Aws => {
                let base = host.strip_suffix(".amazonaws.com")?;
                if base.starts_with("s3.") || base.starts_with("s3-") || base == "s3" {
                    return split_path(rest);
                }
                let cut = [base.rfind(".s3."), base.rfind(".s3-")]
                    .into_iter()
                    .flatten()
                    .max()
                    .or_else(|| base.strip_suffix(".s3").map(str::len))?;
                Some(Located {
                    bucket: base[..cut].to_owned(),
                    key: decode(rest)?,
                })
            }
            Provider::Gcs => {
                if host == "storage.googleapis.com" || host == "storage.cloud.google.com" {
                    return split_path(rest);
                }
                let bucket = host.strip_suffix(".storage.googleapis.com")?;
                Some(Located {
                    bucket: bucket.to_owned(),
                    key: decode(rest)?,
                })
            }
            Provider::Azure => {
                let account = host.strip_suffix(".blob.core.windows.net")?;
                if !account.eq_ignore_ascii_case(self.azure_account()) {
                    return None;
                }
                split_path(rest)
            }
        }
    }

    fn client_options(&self) -> ClientOptions {
        let http = self.endpoint.as_ref().is_some_and(|e| e.scheme() == "http");
        ClientOptions::new()
            .with_allow_http(http)
            .with_connect_timeout(Duration::from_secs(5))
            .with_timeout(Duration::from_secs(60))
    }

    fn retry() -> RetryConfig {
        // Fail within seconds when a storage is down, rather than object_store's 3 minutes: a
        // person is waiting on the answer (listing, registration).
        RetryConfig {
            backoff: BackoffConfig {
                init_backoff: Duration::from_millis(100),
                max_backoff: Duration::from_secs(2),
                base: 2.0,
            },
            max_retries: 2,
            retry_timeout: Duration::from_secs(20),
        }
    }

    fn build(&self, bucket: &str) -> Result<Arc<dyn Backend>, StorageError> {
        let built: Result<Arc<dyn Backend>, object_store::Error> = match &self.credentials {
            Credentials::Aws {
                key_id,
                secret,
                token,
            } => {
                let mut b = AmazonS3Builder::new()
                    .with_bucket_name(bucket)
                    .with_region(&self.region)
                    .with_access_key_id(key_id)
                    .with_secret_access_key(secret)
                    .with_client_options(self.client_options())
                    .with_retry(Self::retry());
                if let Some(t) = token {
                    b = b.with_token(t);
                }
                if let Some(e) = &self.endpoint {
                    // Virtual-hosted requests take the bucket's own endpoint.
                    let endpoint = if self.path_style {
                        e.as_str().trim_end_matches('/').to_owned()
                    } else {
                        let host = e.host_str().unwrap_or_default();
                        let port = e.port().map(|p| format!(":{p}")).unwrap_or_default();
                        let path = e.path().trim_end_matches('/');
                        format!("{}://{bucket}.{host}{port}{path}", e.scheme())
                    };
                    b = b.with_endpoint(endpoint);
                }
                // Virtual-hosted (BUCKET.s3.REGION.amazonaws.com) is AWS's recommended form and
                // what `object_url` writes; S3-compatible servers default to path style.
                b = b.with_virtual_hosted_style_request(!self.path_style);
                b.build().map(|s| Arc::new(s) as Arc<dyn Backend>)
            }
            Credentials::Gcs { service_account } => {
                let mut b = GoogleCloudStorageBuilder::new()
                    .with_bucket_name(bucket)
                    .with_service_account_key(service_account)
                    .with_client_options(self.client_options())
                    .with_retry(Self::retry());
                if let Some(e) = &self.endpoint {
                    b = b.with_base_url(e.as_str().trim_end_matches('/'));
                }
                b.build().map(|s| Arc::new(s) as Arc<dyn Backend>)
            }
            Credentials::AzureKey { .. } | Credentials::AzureSas { .. } => {
                let mut b = MicrosoftAzureBuilder::new()
                    .with_account(self.azure_account())
                    .with_container_name(bucket)
                    .with_client_options(self.client_options())
                    .with_retry(Self::retry());
                b = match &self.credentials {
                    Credentials::AzureKey { key, .. } => b.with_access_key(key),
                    Credentials::AzureSas { sas, .. } => b.with_sas_authorization(sas.clone()),
                    _ => b,
                };
                if let Some(e) = &self.endpoint {
                    b = b.with_endpoint(e.as_str().trim_end_matches('/').to_owned());
                }
                b.build().map(|s| Arc::new(s) as Arc<dyn Backend>)
            }
        };
        // Builder errors name a setting, never its value; still, keep URLs out.
        built.map_err(|e| {
            let hint = match self.credentials {
                Credentials::AzureKey { .. } => {
                    "; the account key is the base64 text shown under the account's Access keys"
                }
                Credentials::Gcs { .. } => {
                    "; use the service-account key JSON exactly as downloaded (its `private_key` is an RSA key in PEM form)"
                }
                _ => "",
            };
            self.invalid(format!(
                "the credentials cannot be used: {}{hint}",
                redact_urls(&e.to_string())
            ))
        })
    }

    /// Maps an `object_store` error to a failure naming the storage and what was attempted.
    fn failed(&self, what: &str, e: &object_store::Error) -> StorageError {
        let failure = match e {
            object_store::Error::NotFound { .. } => Failure::NotFound,
            object_store::Error::PermissionDenied { .. }
            | object_store::Error::Unauthenticated { .. } => Failure::Denied,
            object_store::Error::NotSupported { .. }
            | object_store::Error::NotImplemented { .. } => Failure::Unsupported,
            object_store::Error::InvalidPath { .. } => Failure::Invalid,
            // Listing errors reach us as `Generic`, with the HTTP status only in the text (the
            // typed retry error is private to object_store).
            _ => {
                let text = e.to_string();
                if text.contains("status code: 401") || text.contains("status code: 403") {
                    Failure::Denied
                } else if text.contains("status code: 404") {
                    Failure::NotFound
                } else {
                    Failure::Unreachable
                }
            }
        };
        let cause = redact_urls(&e.to_string());
        tracing::warn!("storage {}: {what}: {cause}", self.id());
        let hint = match failure {
            Failure::Denied => "; check the storage's credentials and their permissions",
            Failure::Unreachable => "; check the storage's endpoint and that it is up",
            _ => "",
        };
        let cause: String = cause.chars().take(400).collect();
        StorageError::new(
            failure,
            format!(
                "storage {} ({}): {what} failed: {cause}{hint}",
                self.id(),
                self.provider.sdk_name()
            ),
        )
    }
}

/// Tries a new storage integration's credentials before they are stored. Their form always: a
/// client is built, which parses the keys (an Azure key must be base64, a GCP service-account
/// key must hold an RSA private key), without a request. When `on_bucket` and the storage names
/// a bucket, also one listing of at most one key in it, so a wrong key, a missing bucket or an
/// endpoint that does not answer is found now. The message says which, and how to fix it.
pub async fn try_credentials(new: &NewStorage, on_bucket: bool) -> Result<(), StorageError> {
    let storage = Storage {
        // Messages name the storage; it has no ID yet.
        id: format!("{:?}", new.name),
        name: new.name.clone(),
        provider: new.provider.sdk_name().to_owned(),
        kind: new.provider.rest_name().to_owned(),
        region: new.region.clone(),
        bucket: new.bucket.clone(),
        endpoint: new.endpoint.clone(),
        path_style: new.path_style,
        created_at: String::new(),
    };
    let remote = Remote::new(storage, &StorageSecret(new.secret.clone()))?;
    let bucket = new.bucket.as_deref().filter(|b| !b.is_empty());
    let client = remote.build(bucket.unwrap_or("credentials-form-check"))?;
    let (Some(bucket), true) = (bucket, on_bucket) else {
        return Ok(());
    };
    let opts = PaginatedListOptions {
        delimiter: Some(Cow::Borrowed("/")),
        max_keys: Some(1),
        ..PaginatedListOptions::default()
    };
    match client.list_paginated(None, opts).await {
        Ok(_) => Ok(()),
        Err(e) => {
            let mut failed = remote.failed(
                &format!("trying the credentials by listing bucket {bucket}"),
                &e,
            );
            if failed.failure == Failure::NotFound {
                failed
                    .message
                    .push_str("; check the bucket's name (and, for S3, the region and endpoint)");
            }
            failed.message.push_str(
                "; nothing was stored (a hub that cannot reach the bucket itself is started with --skip-storage-check)",
            );
            Err(failed)
        }
    }
}

/// What the hub needs of a bucket client; `object_store`'s S3, GCS and Azure stores are all this.
trait Backend: ObjectStore + Signer + PaginatedListStore {}
impl<T: ObjectStore + Signer + PaginatedListStore> Backend for T {}

fn object_path(remote: &Remote, key: &str) -> Result<ObjectPath, StorageError> {
    ObjectPath::parse(key).map_err(|e| {
        remote.invalid(format!(
            "the key {key:?} cannot be used: {e}; keys must not have empty parts or unusual characters"
        ))
    })
}

/// Bucket clients of every storage in use, built on first use and dropped when a storage is
/// deleted (IDs are never reused, so a cached client never outlives its settings).
#[derive(Default)]
pub struct Clients {
    cache: Mutex<HashMap<(String, String), Arc<dyn Backend>>>,
}

impl std::fmt::Debug for Clients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Clients")
    }
}

impl Clients {
    fn client(&self, remote: &Remote, bucket: &str) -> Result<Arc<dyn Backend>, StorageError> {
        let key = (remote.id().to_owned(), bucket.to_owned());
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(c) = cache.get(&key) {
            return Ok(c.clone());
        }
        let c = remote.build(bucket)?;
        cache.insert(key, c.clone());
        Ok(c)
    }

    /// Forgets every client of a storage (after it was deleted).
    pub fn forget(&self, storage_id: &str) {
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .retain(|(id, _), _| id != storage_id);
    }

    /// The metadata of an object (a HEAD request).
    pub async fn head(&self, remote: &Remote, at: &Located) -> Result<ObjectMeta, StorageError> {
        let c = self.client(remote, &at.bucket)?;
        let path = object_path(remote, &at.key)?;
        object_store::ObjectStoreExt::head(c.as_ref(), &path)
            .await
            .map_err(|e| remote.failed(&format!("checking {}/{}", at.bucket, at.key), &e))
    }

    /// Streams an object's bytes.
    pub async fn get(
        &self,
        remote: &Remote,
        at: &Located,
    ) -> Result<object_store::GetResult, StorageError> {
        let c = self.client(remote, &at.bucket)?;
        let path = object_path(remote, &at.key)?;
        object_store::ObjectStoreExt::get(c.as_ref(), &path)
            .await
            .map_err(|e| remote.failed(&format!("reading {}/{}", at.bucket, at.key), &e))
    }

    /// A presigned URL for `method` on an object, valid for `ttl` (at most 7 days).
    pub async fn sign(
        &self,
        remote: &Remote,
        method: Method,
        at: &Located,
        ttl: Duration,
    ) -> Result<String, StorageError> {
        if matches!(remote.credentials, Credentials::AzureSas { .. }) {
            return Err(StorageError::new(
                Failure::Unsupported,
                format!(
                    "storage {} authenticates with a SAS token, and a SAS cannot sign another; register the storage with the account key to get signed URLs",
                    remote.id()
                ),
            ));
        }
        let c = self.client(remote, &at.bucket)?;
        let path = object_path(remote, &at.key)?;
        let ttl = ttl.min(Duration::from_secs(MAX_SIGNED_URL_SECS));
        c.signed_url(method, &path, ttl)
            .await
            .map(String::from)
            .map_err(|e| remote.failed(&format!("signing {}/{}", at.bucket, at.key), &e))
    }

    /// One page of the files and folders directly under `prefix` (a folder path; a trailing
    /// `/` is added when missing).
    pub async fn list(
        &self,
        remote: &Remote,
        bucket: &str,
        prefix: &str,
        scroll_token: Option<String>,
        limit: usize,
    ) -> Result<Listing, StorageError> {
        let c = self.client(remote, bucket)?;
        let mut prefix = prefix.trim_start_matches('/').to_owned();
        if !prefix.is_empty() && !prefix.ends_with('/') {
            prefix.push('/');
        }
        let opts = PaginatedListOptions {
            delimiter: Some(Cow::Borrowed("/")),
            max_keys: Some(limit.clamp(1, MAX_LIST_LIMIT)),
            page_token: scroll_token.filter(|t| !t.is_empty()),
            ..PaginatedListOptions::default()
        };
        let page = c
            .list_paginated((!prefix.is_empty()).then_some(prefix.as_str()), opts)
            .await
            .map_err(|e| remote.failed(&format!("listing {bucket}/{prefix}"), &e))?;
        let marker = prefix.trim_end_matches('/');
        let mut files: Vec<ListedFile> = page
            .result
            .objects
            .into_iter()
            // A zero-byte "folder" placeholder object is the prefix itself, not a file in it.
            .filter(|m| m.location.as_ref() != marker)
            .map(|m| {
                let key = m.location.to_string();
                ListedFile {
                    name: key.rsplit('/').next().unwrap_or(&key).to_owned(),
                    url: remote.object_url(bucket, &key),
                    key,
                    size: m.size,
                    last_modified: m.last_modified.to_rfc3339(),
                    e_tag: m.e_tag,
                    signed_url: None,
                }
            })
            .collect();
        files.sort_by(|a, b| a.key.cmp(&b.key));
        let mut folders: Vec<ListedFolder> = page
            .result
            .common_prefixes
            .into_iter()
            .map(|p| {
                let key = p.to_string();
                ListedFolder {
                    name: key
                        .trim_end_matches('/')
                        .rsplit('/')
                        .next()
                        .unwrap_or(&key)
                        .to_owned(),
                    key: format!("{}/", key.trim_end_matches('/')),
                }
            })
            .collect();
        folders.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(Listing {
            bucket: bucket.to_owned(),
            path: prefix,
            files,
            folders,
            scroll_token: page.page_token,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn storage(kind: &str, endpoint: Option<&str>, path_style: Option<bool>) -> Storage {
        Storage {
            id: "s1".into(),
            name: "n".into(),
            provider: String::new(),
            kind: kind.into(),
            region: Some("eu-west-1".into()),
            bucket: Some("b".into()),
            endpoint: endpoint.map(str::to_owned),
            path_style,
            created_at: String::new(),
        }
    }

    fn remote(kind: &str, endpoint: Option<&str>, secret: Value) -> Remote {
        Remote::new(storage(kind, endpoint, None), &StorageSecret(secret)).expect("remote")
    }

    fn aws_secret() -> Value {
        serde_json::json!({"publicKey": "AKID", "privateKey": "SECRET"})
    }

    #[test]
    fn aws_urls_round_trip() {
        let r = remote("aws", None, aws_secret());
        let url = r.object_url("my.bucket", "a dir/ü x.jpg");
        assert_eq!(
            url,
            "https://my.bucket.s3.eu-west-1.amazonaws.com/a%20dir/%C3%BC%20x.jpg"
        );
        let want = Located {
            bucket: "my.bucket".into(),
            key: "a dir/ü x.jpg".into(),
        };
        assert_eq!(r.locate(&url).expect("locate"), want);
        for u in [
            "https://my.bucket.s3.amazonaws.com/a%20dir/%C3%BC%20x.jpg",
            "https://my.bucket.s3-eu-west-1.amazonaws.com/a%20dir/%C3%BC%20x.jpg?storageId=x",
            "https://s3.eu-west-1.amazonaws.com/my.bucket/a%20dir/%C3%BC%20x.jpg",
            "s3://my.bucket/a%20dir/%C3%BC%20x.jpg",
        ] {
            assert_eq!(r.locate(u).expect(u), want, "{u}");
        }
        for bad in [
            "https://example.com/b/k.jpg",
            "gs://b/k.jpg",
            "https://b.s3.amazonaws.com/",
            "https://b.s3.amazonaws.com/folder/",
            "not a url",
        ] {
            let e = r.locate(bad).expect_err(bad);
            assert_eq!(e.failure, Failure::Invalid, "{bad}");
            assert!(e.message.contains("storage s1"), "{}", e.message);
        }
    }

    #[test]
    fn custom_endpoints_path_and_virtual_style() {
        let r = remote("aws", Some("http://127.0.0.1:9000/"), aws_secret());
        let url = r.object_url("bkt", "x/y.png");
        assert_eq!(url, "http://127.0.0.1:9000/bkt/x/y.png");
        assert_eq!(
            r.locate(&url).expect("locate"),
            Located {
                bucket: "bkt".into(),
                key: "x/y.png".into()
            }
        );
        assert!(r.locate("http://127.0.0.1:9001/bkt/x/y.png").is_err());
        assert!(r.locate("https://127.0.0.1:9000/bkt/x/y.png").is_err());

        let v = Remote::new(
            storage("aws", Some("https://minio.example.com"), Some(false)),
            &StorageSecret(aws_secret()),
        )
        .expect("remote");
        let url = v.object_url("bkt", "k.png");
        assert_eq!(url, "https://bkt.minio.example.com/k.png");
        assert_eq!(v.locate(&url).expect("locate").bucket, "bkt");

        let az = remote(
            "azure",
            Some("http://127.0.0.1:10000/devstoreaccount1"),
            serde_json::json!({"publicKey": "devstoreaccount1", "privateKey": "a2V5"}),
        );
        let url = az.object_url("cont", "d/e f.png");
        assert_eq!(
            url,
            "http://127.0.0.1:10000/devstoreaccount1/cont/d/e%20f.png"
        );
        assert_eq!(
            az.locate(&url).expect("locate"),
            Located {
                bucket: "cont".into(),
                key: "d/e f.png".into()
            }
        );
        assert!(az
            .locate("http://127.0.0.1:10000/other/cont/x.png")
            .is_err());
    }

    #[test]
    fn gcs_and_azure_public_forms() {
        let sa = serde_json::json!({"client_email": "a@b", "private_key": "-----BEGIN PRIVATE KEY-----"});
        let g = remote(
            "gcs",
            None,
            serde_json::json!({"credentials": sa.to_string()}),
        );
        let want = Located {
            bucket: "bk".into(),
            key: "p/q.png".into(),
        };
        for u in [
            "https://storage.googleapis.com/bk/p/q.png",
            "https://bk.storage.googleapis.com/p/q.png",
            "gs://bk/p/q.png",
        ] {
            assert_eq!(g.locate(u).expect(u), want);
        }
        let a = remote(
            "azure",
            None,
            serde_json::json!({"credentials": {"accountName": "acct", "sasToken": "?sv=1&sig=abc"}}),
        );
        assert_eq!(
            a.locate("https://acct.blob.core.windows.net/bk/p/q.png")
                .expect("azure"),
            want
        );
        assert!(a
            .locate("https://other.blob.core.windows.net/bk/p/q.png")
            .is_err());
        assert!(matches!(&a.credentials, Credentials::AzureSas { sas, .. } if sas.len() == 2));
        assert!(!format!("{a:?}").contains("abc"), "Debug redacts");
    }

    #[test]
    fn missing_credentials_are_named() {
        let e = Remote::new(
            storage("aws", None, None),
            &StorageSecret(serde_json::json!({"publicKey": "A"})),
        )
        .expect_err("no secret");
        assert!(e.message.contains("secret access key"), "{}", e.message);
        let e = Remote::new(
            storage("gcs", None, None),
            &StorageSecret(serde_json::json!({"credentials": "not json"})),
        )
        .expect_err("no json");
        assert!(e.message.contains("service-account"), "{}", e.message);
    }

    #[test]
    fn redaction_strips_queries_of_urls_only() {
        assert_eq!(
            redact_urls("GET http://h/p?sig=1&sv=2 failed (see https://x/y), a?b"),
            "GET http://h/p?<redacted> failed (see https://x/y), a?b"
        );
    }
}
