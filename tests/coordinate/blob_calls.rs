//! The blob client against Azurite: every call with its conditions, names that
//! need encoding, and every credential (Shared Key, connection string, SAS, bearer
//! over https), with wrong credentials refused and never echoed.

use std::sync::Arc;

use base64::Engine;
use hmac::{Hmac, Mac};
use kvwatch::coordinate::blob::connection::{DEV_ACCOUNT, DEV_ACCOUNT_KEY};
use kvwatch::coordinate::blob::{
    BlobAuth, BlobClientOptions, BlobError, Condition, ConnectionString, ETag, Metadata, SharedKey,
};
use kvwatch::sink::secret::Secret;
use sha2::Sha256;

use crate::azurite::{self, Azurite};

fn meta(pairs: &[(&str, &str)]) -> Metadata {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[tokio::test]
async fn every_call_with_its_conditions() {
    let azurite = Azurite::start();
    let c = azurite::client_at(
        &azurite.endpoint(),
        "calls",
        azurite::shared_key(),
        azurite::options(),
    );
    assert!(c.create_container().await.unwrap(), "created");
    assert!(!c.create_container().await.unwrap(), "exists already");

    // A zero-length claim (Content-Length: 0 must be sent), then a lost race.
    let blob = "ns/hub/cg/ownership/0";
    let first = c
        .put(
            blob,
            Vec::new(),
            "application/octet-stream",
            &meta(&[("ownerid", "a")]),
            &Condition::IfAbsent,
        )
        .await
        .unwrap();
    assert!(first.server_date >= first.last_modified);
    let again = c
        .put(
            blob,
            Vec::new(),
            "application/octet-stream",
            &meta(&[("ownerid", "b")]),
            &Condition::IfAbsent,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(again, BlobError::Conflict { ref code, .. } if code == "BlobAlreadyExists"),
        "{again}"
    );

    // Renew on the tag, then the stale tag is refused.
    let renewed = c
        .set_metadata(
            blob,
            &meta(&[("ownerid", "a")]),
            &Condition::IfMatch(first.etag.clone()),
        )
        .await
        .unwrap();
    assert_ne!(renewed.etag, first.etag, "every write changes the tag");
    let stale = c
        .set_metadata(
            blob,
            &meta(&[("ownerid", "b")]),
            &Condition::IfMatch(first.etag.clone()),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(stale, BlobError::PreconditionFailed { ref code, .. } if code == "ConditionNotMet"),
        "{stale}"
    );

    let props = c.properties(blob).await.unwrap();
    assert_eq!(props.etag, renewed.etag);
    assert_eq!(props.metadata, meta(&[("ownerid", "a")]));
    assert_eq!(props.content_length, 0);
    assert!(props.server_date >= props.last_modified);

    // A body, read back; a download larger than allowed is refused.
    let body = b"{\"hello\": \"blob\"}".to_vec();
    c.put(
        "kvwatch/g/manifest",
        body.clone(),
        "application/json",
        &Metadata::new(),
        &Condition::Always,
    )
    .await
    .unwrap();
    let got = c.get("kvwatch/g/manifest", 1024).await.unwrap();
    assert_eq!(got.body, body);
    assert_eq!(got.props.content_length, body.len() as u64);
    let big = c.get("kvwatch/g/manifest", 4).await.unwrap_err();
    assert!(big.to_string().contains("larger than 4 bytes"), "{big}");

    // Names that need encoding sign and round-trip like any other.
    let odd = "ns/hub/$default/checkpoint/Ünïcode name+1";
    c.put(
        odd,
        b"x".to_vec(),
        "text/plain",
        &Metadata::new(),
        &Condition::Always,
    )
    .await
    .unwrap();
    assert_eq!(c.get(odd, 16).await.unwrap().body, b"x");

    // The listing's unquoted tags normalise to the headers' quoted ones.
    let listed = c.list("ns/").await.unwrap();
    let names: Vec<&str> = listed.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "ns/hub/$default/checkpoint/Ünïcode name+1",
            "ns/hub/cg/ownership/0"
        ]
    );
    assert_eq!(listed[1].etag, renewed.etag);
    assert_eq!(listed[1].metadata, meta(&[("ownerid", "a")]));
    assert!(c.list("nothing/").await.unwrap().is_empty());

    // Deletes: a stale tag is refused, the current one works, then it is gone.
    let stale = c
        .delete(blob, &Condition::IfMatch(first.etag.clone()))
        .await
        .unwrap_err();
    assert!(
        matches!(stale, BlobError::PreconditionFailed { .. }),
        "{stale}"
    );
    c.delete(blob, &Condition::IfMatch(renewed.etag.clone()))
        .await
        .unwrap();
    let gone = c.properties(blob).await.unwrap_err();
    assert!(matches!(gone, BlobError::NotFound { .. }), "{gone}");
    let gone = c.delete(blob, &Condition::Always).await.unwrap_err();
    assert!(matches!(gone, BlobError::NotFound { .. }), "{gone}");
    assert!(
        gone.to_string().contains(blob),
        "errors name the blob: {gone}"
    );
}

/// An account SAS for the development account, signed as the service checks it
/// (version 2020-12-06 and later: ten fields and a trailing newline).
fn account_sas(key: &str) -> String {
    let (sp, ss, srt, se, spr, sv) = (
        "racwdl",
        "b",
        "sco",
        "2099-01-01T00:00:00Z",
        "https,http",
        "2023-11-03",
    );
    let to_sign = format!("{DEV_ACCOUNT}\n{sp}\n{ss}\n{srt}\n\n{se}\n\n{spr}\n{sv}\n\n");
    let key = base64::engine::general_purpose::STANDARD
        .decode(key)
        .unwrap();
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key).unwrap();
    mac.update(to_sign.as_bytes());
    let sig = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    let sig: String = sig
        .chars()
        .map(|c| match c {
            '+' => "%2B".to_owned(),
            '/' => "%2F".to_owned(),
            '=' => "%3D".to_owned(),
            c => c.to_string(),
        })
        .collect();
    format!("sv={sv}&ss={ss}&srt={srt}&sp={sp}&se={se}&spr={spr}&sig={sig}")
}

#[tokio::test]
async fn every_credential_works_and_wrong_ones_are_refused_without_being_echoed() {
    let azurite = Azurite::start();
    let endpoint = azurite.endpoint();
    let round_trip = |auth: BlobAuth, container: &'static str| {
        let client = azurite::client_at(&endpoint, container, auth, azurite::options());
        async move {
            client.create_container().await?;
            client
                .put(
                    "probe",
                    b"ok".to_vec(),
                    "text/plain",
                    &Metadata::new(),
                    &Condition::Always,
                )
                .await?;
            client.get("probe", 16).await.map(|d| d.body)
        }
    };

    assert_eq!(
        round_trip(azurite::shared_key(), "by-key").await.unwrap(),
        b"ok"
    );
    let cs = ConnectionString::parse(&Secret::new(azurite.connection_string())).unwrap();
    assert_eq!(cs.blob_endpoint, endpoint);
    assert_eq!(
        round_trip(cs.auth, "by-connection-string").await.unwrap(),
        b"ok"
    );
    let sas = BlobAuth::sas(&Secret::new(account_sas(DEV_ACCOUNT_KEY))).unwrap();
    assert_eq!(round_trip(sas, "by-sas").await.unwrap(), b"ok");

    // A wrong key and a SAS signed with it: 403, and neither appears in the error.
    let wrong_key = base64::engine::general_purpose::STANDARD.encode([7u8; 64]);
    let auth = BlobAuth::SharedKey(SharedKey::new(DEV_ACCOUNT, &Secret::new(&wrong_key)).unwrap());
    let err = round_trip(auth, "wrong-key").await.unwrap_err();
    assert!(matches!(err, BlobError::Auth { status: 403, .. }), "{err}");
    assert!(!err.to_string().contains(&wrong_key), "{err}");
    let wrong_sas = account_sas(&wrong_key);
    let sig = wrong_sas.split("sig=").nth(1).unwrap().to_owned();
    let err = round_trip(
        BlobAuth::sas(&Secret::new(&wrong_sas)).unwrap(),
        "wrong-sas",
    )
    .await
    .unwrap_err();
    assert!(matches!(err, BlobError::Auth { status: 403, .. }), "{err}");
    let text = format!("{err} {err:?}");
    assert!(!text.contains(&sig) && !text.contains(&wrong_sas), "{text}");
}

/// A token credential minting unsigned JWTs (Azurite's basic OAuth checks issuer,
/// audience and lifetime, not signatures), valid or already expired.
#[derive(Debug)]
struct TestTokens {
    expired: bool,
}

#[async_trait::async_trait]
impl azure_core::credentials::TokenCredential for TestTokens {
    async fn get_token(
        &self,
        scopes: &[&str],
        _: Option<azure_core::credentials::TokenRequestOptions<'_>>,
    ) -> azure_core::Result<azure_core::credentials::AccessToken> {
        assert_eq!(scopes, ["https://storage.azure.com/.default"]);
        let now = chrono::Utc::now().timestamp();
        let (nbf, exp) = if self.expired {
            (now - 7200, now - 3600)
        } else {
            (now - 60, now + 3600)
        };
        let b64 = |v: serde_json::Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
        };
        let jwt = format!(
            "{}.{}.c2lnbmF0dXJl",
            b64(serde_json::json!({"alg": "RS256", "typ": "JWT"})),
            b64(serde_json::json!({
                "aud": "https://storage.azure.com",
                "iss": "https://sts.windows.net/ab1f708d-50f6-404c-a006-d71b2ac7a606/",
                "iat": nbf, "nbf": nbf, "exp": exp,
                "oid": "11059fcc-5514-4800-b5f8-49808b9cfab6",
            }))
        );
        let expires = azure_core::time::OffsetDateTime::from_unix_timestamp(exp).map_err(|e| {
            azure_core::Error::with_message(azure_core::error::ErrorKind::Other, e.to_string())
        })?;
        Ok(azure_core::credentials::AccessToken::new(jwt, expires))
    }
}

#[tokio::test]
async fn bearer_tokens_over_https() {
    let azurite = Azurite::start_https_oauth();
    let pki = std::env::var("KVWATCH_TEST_PKI").unwrap();
    let options = BlobClientOptions {
        ca_pem: Some(std::fs::read(format!("{pki}/ca.pem")).unwrap()),
        ..azurite::options()
    };
    // Containers are created with the key (tokens need a data role, which basic
    // OAuth grants), then every call goes with a token.
    let admin = azurite::client_at(
        &azurite.endpoint(),
        "by-token",
        azurite::shared_key(),
        options.clone(),
    );
    admin.create_container().await.unwrap();
    let good = BlobAuth::bearer(Arc::new(TestTokens { expired: false }));
    let c = azurite::client_at(&azurite.endpoint(), "by-token", good, options.clone());
    let w = c
        .put(
            "probe",
            b"token".to_vec(),
            "text/plain",
            &Metadata::new(),
            &Condition::IfAbsent,
        )
        .await
        .unwrap();
    assert_eq!(c.properties("probe").await.unwrap().etag, w.etag);
    assert_eq!(c.get("probe", 16).await.unwrap().body, b"token");

    let expired = BlobAuth::bearer(Arc::new(TestTokens { expired: true }));
    let c = azurite::client_at(&azurite.endpoint(), "by-token", expired, options.clone());
    let err = c.get("probe", 16).await.unwrap_err();
    assert!(matches!(err, BlobError::Auth { .. }), "{err}");

    // Without the test CA the server's certificate is not trusted.
    let untrusted = azurite::client_at(
        &azurite.endpoint(),
        "by-token",
        azurite::shared_key(),
        azurite::options(),
    );
    let err = untrusted.get("probe", 16).await.unwrap_err();
    assert!(matches!(err, BlobError::Transport { .. }), "{err}");
    // And a bearer token is never sent over plain http.
    let http = azurite::endpoint_at(azurite.port(), false);
    let refused = kvwatch::coordinate::blob::BlobClient::new(
        &http,
        "by-token",
        BlobAuth::bearer(Arc::new(TestTokens { expired: false })),
        options,
        Arc::new(kvwatch::pipeline::clock::SystemClock),
    )
    .unwrap_err();
    assert!(
        refused.to_string().contains("only sent over https"),
        "{refused}"
    );
}

#[tokio::test]
async fn an_unreachable_service_is_a_transient_fault() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let c = azurite::client_at(
        &azurite::endpoint_at(port, false),
        "gone",
        azurite::shared_key(),
        azurite::options(),
    );
    let err = c.properties("x").await.unwrap_err();
    assert!(err.is_transient(), "{err}");
    assert!(matches!(err, BlobError::Transport { .. }), "{err}");
    assert!(
        !err.to_string().contains("127.0.0.1"),
        "no URL in errors: {err}"
    );
    // A SAS travels in the URL: never in a transport error either.
    let sas = account_sas(DEV_ACCOUNT_KEY);
    let c = azurite::client_at(
        &azurite::endpoint_at(port, false),
        "gone",
        BlobAuth::sas(&Secret::new(&sas)).unwrap(),
        azurite::options(),
    );
    let err = c.properties("x").await.unwrap_err();
    let text = format!("{err} {err:?} {c:?}");
    let sig = sas.split("sig=").nth(1).unwrap();
    assert!(!text.contains(sig) && !text.contains("sig="), "{text}");
    assert_eq!(ETag::parse("0x1"), ETag::parse("\"0x1\""));
}
