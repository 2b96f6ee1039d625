//! Objects in S3 below `s3://bucket/prefix/`.

use aws_sdk_s3::primitives::ByteStream;

use super::{ObjectInfo, ObjectStore, StoreError, WriteIf};
use crate::aws::error_text;

/// GETs of one object whose body breaks off before its end, at most: a connection reset
/// mid-body is transient; four reads in a row cut short is a problem to report.
const BODY_ATTEMPTS: u32 = 4;
/// The pause before the second read of a body cut short (doubled before each next one).
const BODY_RETRY_PAUSE: std::time::Duration = std::time::Duration::from_millis(100);

/// An S3 bucket and prefix as an object store.
#[derive(Debug, Clone)]
pub struct S3Store {
    client: aws_sdk_s3::Client,
    bucket: String,
    prefix: String,
}

impl S3Store {
    /// Uses `bucket` and `prefix` (empty, or ending with `/`).
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>, prefix: impl Into<String>) -> Self {
        S3Store { client, bucket: bucket.into(), prefix: prefix.into() }
    }

    fn full(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    fn err(&self, key: &str, e: &impl std::error::Error) -> StoreError {
        StoreError::Remote { uri: self.uri(key), detail: error_text(e) }
    }
}

/// The store factory of the command-line tools: local folders as they are, `s3://` locations
/// through one S3 client made on first use (so a replay of local files never loads the AWS
/// configuration). `runtime` runs the configuration's loading.
pub fn tool_factory(runtime: tokio::runtime::Handle) -> impl super::StoreFactory<super::AnyStore> {
    let client = std::sync::OnceLock::new();
    move |loc: &super::Location| match loc {
        super::Location::Local(_) => super::AnyStore::open_local(loc),
        super::Location::S3 { .. } => {
            let c = client.get_or_init(|| {
                // Loading reads the environment and profile files (and may ask instance
                // metadata for a region); it needs the runtime, not one of its threads.
                let conf = std::thread::scope(|s| s.spawn(|| runtime.block_on(crate::aws::sdk_config())).join());
                conf.map(|c| crate::aws::s3(&c)).ok()
            });
            super::AnyStore::open(loc, c.as_ref())
        }
    }
}

impl ObjectStore for S3Store {
    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(self.full(key))
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(|e| self.err(key, &e))?;
        Ok(())
    }

    async fn get_tagged(&self, key: &str) -> Result<Option<(Vec<u8>, String)>, StoreError> {
        match self.client.get_object().bucket(&self.bucket).key(self.full(key)).send().await {
            Ok(out) => {
                let tag = out.e_tag().unwrap_or_default().to_owned();
                let data = out.body.collect().await.map_err(|e| self.err(key, &e))?;
                Ok(Some((data.into_bytes().to_vec(), tag)))
            }
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Ok(None),
            Err(e) => Err(self.err(key, &e)),
        }
    }

    async fn put_if(&self, key: &str, bytes: Vec<u8>, cond: WriteIf<'_>) -> Result<String, StoreError> {
        let req = self.client.put_object().bucket(&self.bucket).key(self.full(key)).body(ByteStream::from(bytes));
        let req = match cond {
            WriteIf::Absent => req.if_none_match("*"),
            WriteIf::Matches(tag) => req.if_match(tag),
        };
        match req.send().await {
            Ok(out) => Ok(out.e_tag().unwrap_or_default().to_owned()),
            Err(e) => {
                // 412: the condition failed; 409: a concurrent conditional write won; 404: an
                // If-Match on an object deleted meanwhile.
                let status = e.raw_response().map(|r| r.status().as_u16());
                if matches!(status, Some(412 | 409 | 404)) {
                    Err(StoreError::Conflict { uri: self.uri(key) })
                } else {
                    Err(self.err(key, &e))
                }
            }
        }
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        // The SDK retries a request that fails; a body cut short after the response began is the
        // caller's to retry: the whole GET again, a few times, with a growing pause.
        let mut pause = BODY_RETRY_PAUSE;
        for attempt in 1..=BODY_ATTEMPTS {
            match self.client.get_object().bucket(&self.bucket).key(self.full(key)).send().await {
                Ok(out) => match out.body.collect().await {
                    Ok(data) => return Ok(Some(data.into_bytes().to_vec())),
                    Err(e) if attempt < BODY_ATTEMPTS => {
                        tracing::debug!(uri = %self.uri(key), attempt, error = %error_text(&e), "body cut short; reading again");
                        metrics::counter!(crate::telemetry::BODY_RETRIES, "service" => "s3").increment(1);
                        tokio::time::sleep(pause).await;
                        pause *= 2;
                    }
                    Err(e) => return Err(self.err(key, &e)),
                },
                Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => return Ok(None),
                Err(e) => return Err(self.err(key, &e)),
            }
        }
        Err(StoreError::Remote { uri: self.uri(key), detail: "unreachable: no attempt made".into() })
    }

    async fn list(&self, prefix: &str, start_after: Option<&str>) -> Result<Vec<ObjectInfo>, StoreError> {
        let mut req = self.client.list_objects_v2().bucket(&self.bucket).prefix(self.full(prefix));
        if let Some(s) = start_after {
            req = req.start_after(self.full(s));
        }
        let mut pages = req.into_paginator().send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| self.err(prefix, &e))?;
            for obj in page.contents() {
                let Some(key) = obj.key() else { continue };
                let rel = key.strip_prefix(&self.prefix).unwrap_or(key);
                out.push(ObjectInfo::new(rel, obj.size().unwrap_or(0).max(0) as u64));
            }
        }
        Ok(out)
    }

    async fn folders(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let full = self.full(prefix);
        let mut pages =
            self.client.list_objects_v2().bucket(&self.bucket).prefix(&full).delimiter("/").into_paginator().send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| self.err(prefix, &e))?;
            for p in page.common_prefixes() {
                let name = p.prefix().and_then(|p| p.strip_prefix(&full)).map(|p| p.trim_end_matches('/'));
                if let Some(n) = name.filter(|n| !n.is_empty()) {
                    out.push(n.to_owned());
                }
            }
        }
        Ok(out)
    }

    fn uri(&self, key: &str) -> String {
        format!("s3://{}/{}{key}", self.bucket, self.prefix)
    }
}
