//! Reading a List Blobs answer (XML) with a plain scan: names, tags, last-modified
//! times, metadata and the continuation marker.
//!
//! Listing is off the coordinator's hot path (its blob names follow from the
//! partition ids): the snapshot collector, the interop tests and operators' status
//! checks use it. The answer's shape is fixed and small, so a scan for the few
//! elements we read is enough and spares an XML dependency; anything that does not
//! fit is an error, never a guess.

use chrono::{DateTime, Utc};

use super::{ETag, Metadata};

/// One blob of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedBlob {
    /// The blob's name.
    pub name: String,
    /// Its tag (normalised to the quoted form).
    pub etag: ETag,
    /// When it was last written (service clock).
    pub last_modified: Option<DateTime<Utc>>,
    /// Its metadata (asked for with `include=metadata`).
    pub metadata: Metadata,
}

/// One page: its blobs and the marker of the next page, if any.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Page {
    /// The blobs.
    pub blobs: Vec<ListedBlob>,
    /// Where the next page starts.
    pub next_marker: Option<String>,
}

/// Parses one page; `Err` says what did not fit.
pub fn parse_page(xml: &str) -> Result<Page, String> {
    if !xml.contains("<EnumerationResults") {
        return Err("not a List Blobs answer".to_owned());
    }
    let mut page = Page::default();
    let mut rest = xml;
    while let Some(start) = rest.find("<Blob>") {
        let after = &rest[start + "<Blob>".len()..];
        let end = after
            .find("</Blob>")
            .ok_or_else(|| "a <Blob> element is not closed".to_owned())?;
        page.blobs.push(parse_blob(&after[..end])?);
        rest = &after[end + "</Blob>".len()..];
    }
    page.next_marker = element(rest, "NextMarker")
        .map(unescape)
        .filter(|m| !m.is_empty());
    Ok(page)
}

fn parse_blob(xml: &str) -> Result<ListedBlob, String> {
    let name = element(xml, "Name")
        .map(unescape)
        .ok_or_else(|| "a blob without <Name>".to_owned())?;
    let etag = element(xml, "Etag")
        .and_then(ETag::parse)
        .ok_or_else(|| format!("blob {name}: no <Etag>"))?;
    let last_modified = element(xml, "Last-Modified")
        .and_then(|t| DateTime::parse_from_rfc2822(t.trim()).ok())
        .map(|t| t.with_timezone(&Utc));
    let mut metadata = Metadata::new();
    if let Some(block) = element(xml, "Metadata") {
        let mut rest = block;
        while let Some(open) = rest.find('<') {
            let after = &rest[open + 1..];
            let close = after
                .find('>')
                .ok_or_else(|| format!("blob {name}: malformed metadata"))?;
            let tag = &after[..close];
            if tag.ends_with('/') {
                metadata.insert(
                    tag.trim_end_matches('/').to_ascii_lowercase(),
                    String::new(),
                );
                rest = &after[close + 1..];
                continue;
            }
            let body = &after[close + 1..];
            let end_tag = format!("</{tag}>");
            let end = body
                .find(&end_tag)
                .ok_or_else(|| format!("blob {name}: metadata {tag} is not closed"))?;
            metadata.insert(tag.to_ascii_lowercase(), unescape(&body[..end]));
            rest = &body[end + end_tag.len()..];
        }
    }
    Ok(ListedBlob {
        name,
        etag,
        last_modified,
        metadata,
    })
}

/// The text of the first `<name>…</name>` (or `""` for `<name/>`).
fn element<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    if let Some(start) = xml.find(&open) {
        let body = &xml[start + open.len()..];
        let end = body.find(&format!("</{name}>"))?;
        return Some(&body[..end]);
    }
    xml.contains(&format!("<{name}/>")).then_some("")
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_azurite_page_with_metadata_and_a_marker() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><EnumerationResults ServiceEndpoint="http://127.0.0.1:10125/devstoreaccount1" ContainerName="kvwatch-probe"><Prefix>ns/hub/kvwatch/ownership/</Prefix><Marker/><MaxResults>5000</MaxResults><Blobs><Blob><Name>ns/hub/kvwatch/ownership/0</Name><Properties><Creation-Time>Sun, 06 Dec 2026 01:15:29 GMT</Creation-Time><Last-Modified>Sun, 06 Dec 2026 01:15:29 GMT</Last-Modified><Etag>0x2209365D2907180</Etag><Content-Length>0</Content-Length></Properties><Metadata><ownerid>B&amp;C</ownerid><empty/></Metadata></Blob><Blob><Name>ns/hub/kvwatch/ownership/1</Name><Properties><Etag>"0x1"</Etag></Properties></Blob></Blobs><NextMarker>m&amp;2</NextMarker></EnumerationResults>"#;
        let page = parse_page(xml).unwrap();
        assert_eq!(page.blobs.len(), 2);
        let b = &page.blobs[0];
        assert_eq!(b.name, "ns/hub/kvwatch/ownership/0");
        assert_eq!(b.etag.as_str(), "\"0x2209365D2907180\"");
        assert_eq!(
            b.last_modified.map(|t| t.to_rfc3339()),
            Some("2026-12-06T01:15:29+00:00".to_owned())
        );
        assert_eq!(b.metadata.get("ownerid").map(String::as_str), Some("B&C"));
        assert_eq!(b.metadata.get("empty").map(String::as_str), Some(""));
        assert!(page.blobs[1].metadata.is_empty());
        assert_eq!(page.next_marker.as_deref(), Some("m&2"));
    }

    #[test]
    fn an_empty_page_and_garbage() {
        let empty = r#"<EnumerationResults><Blobs/><NextMarker/></EnumerationResults>"#;
        assert_eq!(parse_page(empty).unwrap(), Page::default());
        assert!(parse_page("<html>proxy error</html>").is_err());
        assert!(parse_page("<EnumerationResults><Blobs><Blob><Name>x</Name>").is_err());
        assert!(
            parse_page("<EnumerationResults><Blobs><Blob><Name>x</Name></Blob></Blobs>").is_err()
        );
    }
}
