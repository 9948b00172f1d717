use kvwatch::decode::{decode_buffer, Format, Limits, Record};
fn show(buf: &[u8], f: Format) {
    decode_buffer(buf, f, &Limits::default(), &mut |r: Record<'_>| {
        match r.result {
            Ok(e) => println!("{} {:?} {}", r.location, r.shape, serde_json::to_string(&e).unwrap()),
            Err(x) => println!("{} {:?} REFUSED {}", r.location, r.shape, x),
        }
    });
}
#[test]
fn scratch() {
    for f in ["google-secops-azurediagnostics-row.json", "google-secops-azurediagnostics-query-response.json"] {
        let buf = std::fs::read(format!("tests/fixtures/real-samples/{f}")).unwrap();
        println!("== {f} {:?}", kvwatch::decode::detect_format(&buf));
        show(&buf, Format::Auto);
    }
    let csv = "TimeGenerated [UTC],OperationName,_ResourceId,HttpStatusCode,Identity,CallerIpAddress,Id\n\"11/2/2024, 9:12:25.085 AM\",SecretGet,/subscriptions/s/resourcegroups/r/providers/microsoft.keyvault/vaults/v1,403,\"{\"\"claim\"\":{\"\"oid\"\":\"\"AB\"\"}}\",1.2.3.4:55,https://v1.vault.azure.net/secrets/x\n\nx,y\n";
    show(csv.as_bytes(), Format::Auto);
}
