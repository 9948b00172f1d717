//! Baseline tests: learning, forgetting, caps, memory per principal, snapshots.

use std::borrow::Cow;

use chrono::DateTime;

use super::*;
use crate::detect::enrichment::Enricher;
use crate::enrich::Classifier;

fn event(oid: &str, t: i64, ip: &str) -> AuditEvent<'static> {
    let rec = format!(
        r#"{{"time":"{}","category":"AuditEvent","operationName":"SecretGet","resultType":"Success","resultSignature":"OK","callerIpAddress":"{ip}",
        "identity":{{"claim":{{"oid":"{oid}","upn":"u@x"}}}},"properties":{{"id":"https://kv.vault.azure.net/secrets/a","httpStatusCode":200,"clientInfo":"x"}},
        "resourceId":"/SUBSCRIPTIONS/0/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.KEYVAULT/VAULTS/KV"}}"#,
        DateTime::from_timestamp(t, 0)
            .unwrap_or_default()
            .to_rfc3339()
    );
    let leaked: &'static str = Box::leak(rec.into_boxed_str());
    crate::decode::decode_record(leaked.as_bytes())
        .map(crate::event::AuditEvent::into_owned)
        .expect("decodes")
}

fn learn(b: &mut Baselines, e: &AuditEvent<'_>) {
    let en = Enricher::without_database(Classifier::default());
    let geo = en.geo(e.caller_ip);
    let key = e.principal.key.as_deref().map(keys::principal_key);
    b.learn(e, &geo, key, keys::vault_key(&e.vault), keys::secs(e.time));
}

#[test]
fn learns_places_and_learning_period() {
    let mut b = Baselines::new(BaselineSettings::default());
    let t0 = 1_700_000_000;
    for i in 0..10 {
        learn(
            &mut b,
            &event(
                "aaaaaaaa-0000-0000-0000-000000000001",
                t0 + i * 3600,
                "81.2.69.160",
            ),
        );
    }
    let k = keys::principal_key("aaaaaaaa-0000-0000-0000-000000000001");
    let p = b.principal(k).expect("tracked");
    assert_eq!(p.events, 10);
    assert_eq!(p.networks.len(), 1);
    assert!(b.is_learning(Some(p), t0 as u32 + 10 * 3600));
    assert!(!b.is_learning(Some(p), t0 as u32 + 73 * 3600));
    assert_eq!(b.population().kind(PrincipalKind::User).principals, 1);
    let _ = Cow::Borrowed("");
}

#[test]
fn idle_principals_are_forgotten_and_capped() {
    let settings = BaselineSettings {
        max_principals: 100,
        forget_secs: 10 * 86_400,
        ..Default::default()
    };
    let mut b = Baselines::new(settings);
    let t0 = 1_700_000_000;
    for i in 0..300 {
        learn(
            &mut b,
            &event(
                &format!("aaaaaaaa-0000-0000-0000-{i:012}"),
                t0 + i,
                "10.0.0.1",
            ),
        );
    }
    b.maintain(t0 as u32 + 400);
    let m = b.memory();
    assert!(m.principals <= 100, "{m:?}");
    assert_eq!(
        (m.evicted_idle, m.evicted_capacity),
        (0, 300 - m.principals as u64),
        "over the cap, counted as such: {m:?}"
    );
    // The most recent principals stay: the oldest go first.
    assert!(b
        .principal(keys::principal_key("aaaaaaaa-0000-0000-0000-000000000299"))
        .is_some());
    assert!(b
        .principal(keys::principal_key("aaaaaaaa-0000-0000-0000-000000000000"))
        .is_none());
    let kept = m.principals as u64;
    b.maintain(t0 as u32 + 20 * 86_400);
    let m = b.memory();
    assert_eq!(m.principals, 0);
    assert_eq!(m.pairs, 0);
    assert_eq!((m.evicted_idle, m.evicted_capacity), (kept, 300 - kept));
}

#[test]
fn an_idle_principal_costs_under_a_kibibyte() {
    let mut b = Baselines::new(BaselineSettings::default());
    let t0 = 1_700_000_000;
    for i in 0..5000 {
        learn(
            &mut b,
            &event(
                &format!("aaaaaaaa-0000-0000-0000-{i:012}"),
                t0 + i,
                "81.2.69.160",
            ),
        );
    }
    let m = b.memory();
    let per = (m.principal_bytes + m.pair_bytes) / m.principals;
    assert!(per <= 1024, "{per} bytes per principal: {m:?}");
}

#[test]
fn snapshots_round_trip() {
    let mut b = Baselines::new(BaselineSettings::default());
    learn(
        &mut b,
        &event(
            "aaaaaaaa-0000-0000-0000-000000000001",
            1_700_000_000,
            "81.2.69.160",
        ),
    );
    let bytes = b.save();
    let mut c = Baselines::new(BaselineSettings::default());
    c.restore(&bytes).expect("restores");
    let k = keys::principal_key("aaaaaaaa-0000-0000-0000-000000000001");
    assert_eq!(b.principal(k), c.principal(k));
    assert_eq!(b.population(), c.population());
}
