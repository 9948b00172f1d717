//! Publishing for `kvwatch route`: records grouped by principal key into
//! `{"records":[…]}` bodies, sent with the key as the Event Hubs partition key,
//! retried until the keyed hub took every group.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{bail, Result};
use azure_messaging_eventhubs::{EventDataBatchOptions, ProducerClient};
use futures::StreamExt;
use serde_json::value::RawValue;
use tokio_util::sync::CancellationToken;

use crate::source::eventhubs::Connector;

/// The partition key of records that do not decode.
pub const UNPARSED_KEY: &str = "unparsed";
/// Key groups sent at once.
const IN_FLIGHT: usize = 32;
/// The most bytes of records in one re-published body (the service takes 1 MB).
const MAX_BODY_BYTES: usize = 512 * 1024;

/// Records grouped by partition key, in arrival order within a key, as ready bodies.
pub fn group_by_key<'a>(
    bodies: impl Iterator<Item = &'a [u8]>,
    max_records: usize,
) -> BTreeMap<String, Vec<(Vec<u8>, u64)>> {
    let mut raw: BTreeMap<String, Vec<&'a [u8]>> = BTreeMap::new();
    for body in bodies {
        #[derive(serde::Deserialize)]
        struct Envelope<'b> {
            #[serde(borrow)]
            records: Vec<&'b RawValue>,
        }
        match serde_json::from_slice::<Envelope<'a>>(body) {
            Ok(envelope) => {
                for record in envelope.records {
                    let text = record.get().as_bytes();
                    let key = match crate::decode::decode_record(text) {
                        Ok(event) => event.identity().into_owned(),
                        Err(_) => UNPARSED_KEY.to_owned(),
                    };
                    raw.entry(key).or_default().push(text);
                }
            }
            // Not an envelope: a lone record keeps its key, anything else goes on whole.
            Err(_) => match crate::decode::decode_record(body) {
                Ok(event) => raw
                    .entry(event.identity().into_owned())
                    .or_default()
                    .push(body),
                Err(_) => raw.entry(UNPARSED_KEY.to_owned()).or_default().push(body),
            },
        }
    }
    raw.into_iter()
        .map(|(key, records)| (key, envelopes(&records, max_records)))
        .collect()
}

/// `{"records":[…]}` bodies of at most `max_records` records and about
/// [`MAX_BODY_BYTES`], each with its record count.
fn envelopes(records: &[&[u8]], max_records: usize) -> Vec<(Vec<u8>, u64)> {
    let mut out = Vec::new();
    let mut body = Vec::new();
    let mut count = 0u64;
    for r in records {
        if count > 0 && (count as usize >= max_records || body.len() + r.len() > MAX_BODY_BYTES) {
            body.extend_from_slice(b"]}");
            out.push((std::mem::take(&mut body), count));
            count = 0;
        }
        body.extend_from_slice(if count == 0 { b"{\"records\":[" } else { b"," });
        body.extend_from_slice(r);
        count += 1;
    }
    if count > 0 {
        body.extend_from_slice(b"]}");
        out.push((body, count));
    }
    out
}

/// Encoded bodies of one partition key, each with the number of records it carries.
type Bodies = Vec<(Vec<u8>, u64)>;

/// Sends every group with its key as the partition key, retrying until the hub takes
/// all of them; `None` when cancelled first. Returns (events, records) sent.
pub async fn publish(
    producer: &ProducerClient,
    target: &Connector,
    groups: BTreeMap<String, Vec<(Vec<u8>, u64)>>,
    (initial, max): (Duration, Duration),
    cancel: &CancellationToken,
) -> Option<(u64, u64)> {
    let mut pending: Vec<(String, Bodies)> = groups.into_iter().collect();
    let (mut sent, mut records) = (0, 0);
    let mut delay = initial;
    loop {
        let results: Vec<_> = futures::stream::iter(pending)
            .map(|(key, bodies)| async move {
                let result = send_group(producer, target, &key, &bodies).await;
                (key, bodies, result)
            })
            .buffer_unordered(IN_FLIGHT)
            .collect()
            .await;
        pending = Vec::new();
        for (key, bodies, result) in results {
            match result {
                Ok(()) => {
                    sent += bodies.len() as u64;
                    records += bodies.iter().map(|b| b.1).sum::<u64>();
                }
                Err(e) => {
                    tracing::warn!(
                        "cannot publish to {}: {e}; retrying in {}",
                        target.name(),
                        humantime::format_duration(delay)
                    );
                    pending.push((key, bodies));
                }
            }
        }
        if pending.is_empty() {
            return Some((sent, records));
        }
        tokio::select! {
            () = cancel.cancelled() => return None,
            () = tokio::time::sleep(delay) => {}
        }
        delay = (delay * 2).min(max);
    }
}

async fn send_group(
    producer: &ProducerClient,
    target: &Connector,
    key: &str,
    bodies: &[(Vec<u8>, u64)],
) -> Result<()> {
    let options = || EventDataBatchOptions {
        partition_key: Some(key.to_owned()),
        ..Default::default()
    };
    let mut batch = target
        .bounded(
            "creating a batch".to_owned(),
            producer.create_batch(Some(options())),
        )
        .await?;
    for (body, _) in bodies {
        if !batch.try_add_event_data(body.clone(), None)? {
            let full = std::mem::replace(
                &mut batch,
                target
                    .bounded(
                        "creating a batch".to_owned(),
                        producer.create_batch(Some(options())),
                    )
                    .await?,
            );
            target
                .bounded(
                    "sending a batch".to_owned(),
                    producer.send_batch(full, None),
                )
                .await?;
            if !batch.try_add_event_data(body.clone(), None)? {
                bail!(
                    "a re-published body of {} bytes does not fit in an empty batch",
                    body.len()
                );
            }
        }
    }
    if !batch.is_empty() {
        target
            .bounded(
                "sending a batch".to_owned(),
                producer.send_batch(batch, None),
            )
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(spec: &str) -> Vec<String> {
        #[derive(serde::Deserialize)]
        struct Events {
            events: Vec<crate::detect::examples::EventSpec>,
        }
        let events: Events = toml::from_str(spec).unwrap();
        crate::detect::examples::records(&events.events)
            .unwrap()
            .into_iter()
            .map(|(_, r)| r)
            .collect()
    }

    #[test]
    fn records_are_grouped_by_principal_and_nothing_is_lost() {
        let alice = records("[[events]]\nat = \"2024-05-06T09:00:00Z\"\nrepeat = 2\nop = \"SecretGet\"\noid = \"11111111-1111-4111-8111-111111111111\"\nip = \"81.2.69.160\"\n");
        let anonymous = records("[[events]]\nat = \"2024-05-06T09:00:00Z\"\nop = \"SecretGet\"\nstatus = 403\nip = \"81.2.69.161\"\n");
        let body = format!(
            r#"{{"records":[{},{},7,{}]}}"#,
            alice[0], anonymous[0], alice[1]
        );
        let groups = group_by_key([body.as_bytes(), b"not json".as_slice()].into_iter(), 500);
        assert_eq!(groups.len(), 3, "{:?}", groups.keys().collect::<Vec<_>>());
        assert!(groups.contains_key("ip:81.2.69.161") && groups.contains_key(UNPARSED_KEY));
        let total: u64 = groups.values().flatten().map(|b| b.1).sum();
        assert_eq!(total, 5, "4 array elements and the stray body");
        let (_, principal) = groups
            .iter()
            .find(|(k, _)| k.as_str() != UNPARSED_KEY && !k.starts_with("ip:"))
            .unwrap();
        assert_eq!(principal[0].1, 2);
        let parsed: serde_json::Value = serde_json::from_slice(&principal[0].0).unwrap();
        assert_eq!(parsed["records"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn big_groups_are_split() {
        let one = records("[[events]]\nat = \"2024-05-06T09:00:00Z\"\nop = \"SecretGet\"\n");
        let records: Vec<&[u8]> = std::iter::repeat_n(one[0].as_bytes(), 7).collect();
        let bodies = envelopes(&records, 3);
        assert_eq!(bodies.iter().map(|b| b.1).collect::<Vec<_>>(), [3, 3, 1]);
        for (b, _) in bodies {
            assert!(serde_json::from_slice::<serde_json::Value>(&b).is_ok());
        }
    }
}
