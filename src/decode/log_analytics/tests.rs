//! Tests of the Log Analytics decoders: column classification, and decoding over
//! whole inputs (exact locations, shapes, refusal reasons and borrowing) for the
//! JSON containers and for CSV.

mod columns {
    use crate::decode::log_analytics::columns::*;
    use crate::decode::raw::ClaimKey;

    #[test]
    fn column_names_classify() {
        let table: &[(&str, Column, bool)] = &[
            ("TimeGenerated", Column::Time, false),
            ("timegenerated", Column::Time, false),
            ("_ResourceId", Column::LowerResourceId, false),
            ("CallerIPAddress", Column::CallerIp, false),
            ("CallerIpAddress", Column::CallerIp, false),
            ("id_s", Column::Prop(Prop::Id), false),
            ("Id", Column::Prop(Prop::Id), true),
            ("httpStatusCode_d", Column::Prop(Prop::HttpStatus), false),
            ("HttpStatusCode", Column::Prop(Prop::HttpStatus), true),
            ("Tlsversion", Column::Prop(Prop::TlsVersion), true),
            ("tlsVersion_s", Column::Prop(Prop::TlsVersion), false),
            ("identity_claim_oid_g", Column::Claim(ClaimKey::Oid), false),
            (
                "identity_claim_http_schemas_microsoft_com_identity_claims_objectidentifier_g",
                Column::Claim(ClaimKey::ObjectIdentifier),
                false,
            ),
            (
                "identity_claim_http_schemas_xmlsoap_org_ws_2005_05_identity_claims_upn_s",
                Column::Claim(ClaimKey::Upn),
                false,
            ),
            (
                "identity_claim_xms_mirid_s",
                Column::Claim(ClaimKey::XmsMirid),
                false,
            ),
            (
                "identity_claim_unique_name_s",
                Column::Claim(ClaimKey::UniqueName),
                false,
            ),
            ("identity_claim_ipaddr_s", Column::Ignored, false),
            ("identity_claim_xms_az_nwperimid_s", Column::Ignored, false),
            (
                "properties_sku_Name_s",
                Column::Vault(VaultField::Sku),
                false,
            ),
            ("properties_sku_Family_s", Column::Ignored, false),
            (
                "properties_tenantId_g",
                Column::Vault(VaultField::TenantId),
                false,
            ),
            (
                "properties_softDeleteRetentionInDays_d",
                Column::Vault(VaultField::SoftDeleteRetentionInDays),
                false,
            ),
            (
                "properties_networkAcls_ipRules_s",
                Column::Acl(AclField::IpRules),
                false,
            ),
            (
                "properties_networkAcls_defaultAction_s",
                Column::Acl(AclField::DefaultAction),
                false,
            ),
            (
                "addedAccessPolicy_ObjectId_g",
                Column::Policy(Side::Added, PolicyField::ObjectId),
                false,
            ),
            (
                "removedAccessPolicy_Permissions_secrets_s",
                Column::Policy(Side::Removed, PolicyField::PermissionList("secrets")),
                false,
            ),
            ("Sku", Column::Vault(VaultField::Sku), true),
            ("NetworkAcls", Column::Vault(VaultField::NetworkAcls), true),
            (
                "EnablePurgeProtection",
                Column::Vault(VaultField::EnablePurgeProtection),
                true,
            ),
            (
                "SoftDeleteRetentionInDays",
                Column::Vault(VaultField::SoftDeleteRetentionInDays),
                true,
            ),
            ("Identity", Column::Identity, true),
            ("Properties", Column::Properties, true),
            ("VaultProperties", Column::VaultProperties, true),
            ("keyProperties_type_s", Column::Ignored, false),
            (
                "certificatePolicyProperties_keyProperties_size_d",
                Column::Ignored,
                false,
            ),
            ("TenantId", Column::Ignored, false),
            ("_s", Column::Ignored, false),
            ("", Column::Ignored, false),
            ("TimeGenerated [UTC]", Column::Time, false),
            ("DurationMs [ms]", Column::DurationMs, false),
            ("[x]", Column::Ignored, false),
            ("é_s", Column::Ignored, false),
        ];
        for (name, column, typed) in table {
            let spec = classify(name);
            assert_eq!((spec.column, spec.typed), (*column, *typed), "{name}");
        }
    }
}

mod json {
    use std::borrow::Cow;

    use crate::decode::log_analytics::json::decode;
    use crate::decode::reject::SkipReason;
    use crate::decode::reject::{Refusal, RejectReason};
    use crate::decode::{Limits, Location, Record, Shape};

    const ROW: &str = r#"{"TimeGenerated":"2024-01-01T00:00:00Z","OperationName":"SecretGet","_ResourceId":"/subscriptions/s/resourcegroups/r/providers/microsoft.keyvault/vaults/v1","HttpStatusCode":200,"ClientInfo":"cli/1"}"#;

    type Outcome = (Location, Shape, Result<String, Refusal>);

    fn outcomes(input: &str, limits: Limits) -> Vec<Outcome> {
        let mut out = Vec::new();
        decode(input.as_bytes(), &limits, &mut |r: Record<'_>| {
            out.push((
                r.location,
                r.shape,
                r.result.map(|e| format!("{} {}", e.vault, e.operation)),
            ));
        });
        out
    }

    fn at(line: u64, index: Option<u32>) -> Location {
        Location { line, index }
    }

    fn ok() -> Result<String, Refusal> {
        Ok("v1 SecretGet".to_string())
    }

    #[test]
    fn bad_rows_are_refused_alone() {
        let other = r#"{"Type":"SigninLogs","OperationName":"Sign-in activity","TimeGenerated":"2024-01-01T00:00:00Z"}"#;
        let input = format!("{ROW}\n{{\"TimeGenerated\":\n7\n[{ROW},5,{ROW}]\n\n{other}\n{ROW}\n");
        let (azkv, ad) = (Shape::AzkvAuditLogs, Shape::AzureDiagnostics);
        let want: Vec<Outcome> = vec![
            (at(1, None), azkv, ok()),
            (at(2, None), ad, Err(RejectReason::InvalidJson.into())),
            (at(3, None), ad, Err(RejectReason::UnknownShape.into())),
            (at(4, Some(0)), azkv, ok()),
            (at(4, Some(1)), ad, Err(RejectReason::UnknownShape.into())),
            (at(4, Some(2)), azkv, ok()),
            (at(6, None), ad, Err(SkipReason::OtherCategory.into())),
            (at(7, None), azkv, ok()),
        ];
        assert_eq!(outcomes(&input, Limits::default()), want);
    }

    #[test]
    fn containers_in_any_key_order_stream_their_rows() {
        let odata = format!("{{\"@odata.context\":\"x\",\"value\":[\n{ROW},\n{ROW},\n{{\"Time");
        let azkv = Shape::AzkvAuditLogs;
        let want: Vec<Outcome> = vec![
            (at(2, Some(0)), azkv, ok()),
            (at(3, Some(1)), azkv, ok()),
            (
                at(1, Some(2)),
                Shape::AzureDiagnostics,
                Err(RejectReason::InvalidJson.into()),
            ),
        ];
        assert_eq!(outcomes(&odata, Limits::default()), want);

        // Rows before columns, two tables, a short row, an extra cell, a row object.
        let tables = r#"{"tables":[
 {"rows":[["SecretGet","2024-01-01T00:00:00Z","/subscriptions/s/resourcegroups/r/providers/microsoft.keyvault/vaults/v1",200]],
  "name":"A","columns":[{"name":"OperationName","type":"string"},{"name":"TimeGenerated [UTC]"},"_ResourceId",{"name":"httpStatusCode_d","type":"real"}]},
 {"name":"B","columns":["TimeGenerated","OperationName","ResourceId","ResultSignature"],"rows":[
  ["2024-01-01T00:00:00Z","SecretGet","/SUBSCRIPTIONS/S/RESOURCEGROUPS/R/PROVIDERS/MICROSOFT.KEYVAULT/VAULTS/V1","OK","extra"],
  ["2024-01-01T00:00:00Z"],
  {"TimeGenerated":"2024-01-01T00:00:00Z","OperationName":"SecretGet","Resource":"V1","ResultSignature":"OK"},
  "text"]}]}"#;
        let ad = Shape::AzureDiagnostics;
        let want: Vec<Outcome> = vec![
            (at(2, Some(0)), ad, ok()),
            (at(5, Some(0)), ad, ok()),
            (
                at(6, Some(1)),
                ad,
                Err(RejectReason::MissingOperation.into()),
            ),
            (at(7, Some(2)), ad, ok()),
            (at(8, Some(3)), ad, Err(RejectReason::UnknownShape.into())),
        ];
        assert_eq!(outcomes(tables, Limits::default()), want);
    }

    #[test]
    fn the_size_limit_applies_to_rows_not_containers() {
        let limits = Limits {
            max_record_bytes: ROW.len(),
            ..Limits::default()
        };
        let big = ROW.replace("cli/1", "cli/1.0");
        let input = format!("{{\"value\":[{ROW},{big}]}}\n{big}\n");
        let want: Vec<Outcome> = vec![
            (at(1, Some(0)), Shape::AzkvAuditLogs, ok()),
            (
                at(1, Some(1)),
                Shape::AzureDiagnostics,
                Err(RejectReason::TooLarge.into()),
            ),
            (
                at(2, None),
                Shape::AzureDiagnostics,
                Err(RejectReason::TooLarge.into()),
            ),
        ];
        assert_eq!(outcomes(&input, limits), want);
    }

    #[test]
    fn text_stays_borrowed_from_the_input() {
        let input = ROW.replace("SecretGet", "WidgetGet");
        let mut seen = 0;
        decode(input.as_bytes(), &Limits::default(), &mut |r: Record<
            '_,
        >| {
            let event = r.result.expect("row decodes");
            assert!(matches!(event.client_info, Some(Cow::Borrowed("cli/1"))));
            assert!(matches!(
                event.operation,
                crate::event::Operation::Other(Cow::Borrowed("WidgetGet"))
            ));
            seen += 1;
        });
        assert_eq!(seen, 1);
    }
}

mod csv {
    use std::borrow::Cow;

    use crate::decode::log_analytics::csv::decode;
    use crate::decode::reject::SkipReason;
    use crate::decode::reject::{Refusal, RejectReason};
    use crate::decode::{Limits, Record, Shape};

    const RID: &str = "/subscriptions/s/resourcegroups/r/providers/microsoft.keyvault/vaults/v1";

    #[test]
    fn rows_are_decoded_or_refused_alone() {
        let header = "TimeGenerated [UTC],OperationName,_ResourceId,HttpStatusCode,ClientInfo,Type";
        let long = "x".repeat(300);
        let mut input = format!("\u{feff}{header}\r\n");
        input.push_str(&format!(
            "\"11/2/2024, 9:12:25.085 AM\",SecretGet,{RID},200,cli/1,AZKVAuditLogs\r\n"
        ));
        input.push_str(&format!(
            "2024-11-02T09:12:26Z,SecretGet,{RID},403,\"say \"\"hi\"\"\",AZKVAuditLogs\r\n"
        ));
        input.push_str("2024-11-02T09:12:27Z,SecretGet\r\n\r\n");
        input.push_str(&format!(
            "2024-11-02T09:12:28Z,SecretGet,{RID},200,{long},AZKVAuditLogs\r\n"
        ));
        input.push_str(&format!(
            "2024-11-02T09:12:29Z,\"Sign-in\nactivity\",{RID},200,x,SigninLogs\r\n"
        ));
        input.push_str(&format!(
            "2024-11-02T09:12:30Z,SecretGet,{RID},200,\"multi\nline\",AZKVAuditLogs"
        ));
        let mut bytes = input.into_bytes();
        // An invalid UTF-8 cell, then a good row.
        bytes.extend_from_slice(
            format!("\n2024-11-02T09:12:31Z,SecretGet,{RID},200,bad").as_bytes(),
        );
        bytes.extend_from_slice(&[0xff, 0xfe]);
        bytes.extend_from_slice(b",AZKVAuditLogs\n");

        let limits = Limits {
            max_record_bytes: 200,
            ..Limits::default()
        };
        let mut got = Vec::new();
        decode(&bytes, &limits, &mut |r: Record<'_>| {
            let result = r.result.map(|e| {
                let borrowed = matches!(e.client_info, Some(Cow::Borrowed(_)));
                (
                    e.status,
                    e.client_info.map(Cow::into_owned),
                    borrowed,
                    e.time.to_rfc3339(),
                )
            });
            got.push((r.location.line, r.location.index, r.shape, result));
        });
        let refused = |reason: Refusal| Err::<(u16, Option<String>, bool, String), Refusal>(reason);
        let azkv = Shape::AzkvAuditLogs;
        let ad = Shape::AzureDiagnostics;
        let want = vec![
            (
                2,
                Some(0),
                azkv,
                Ok((
                    200,
                    Some("cli/1".to_string()),
                    true,
                    "2024-11-02T09:12:25.085+00:00".to_string(),
                )),
            ),
            (
                3,
                Some(1),
                azkv,
                Ok((
                    403,
                    Some("say \"hi\"".to_string()),
                    false,
                    "2024-11-02T09:12:26+00:00".to_string(),
                )),
            ),
            (4, Some(2), ad, refused(RejectReason::InvalidCsv.into())),
            (6, Some(3), ad, refused(RejectReason::TooLarge.into())),
            (7, Some(4), ad, refused(SkipReason::OtherCategory.into())),
            (
                9,
                Some(5),
                azkv,
                Ok((
                    200,
                    Some("multi\nline".to_string()),
                    true,
                    "2024-11-02T09:12:30+00:00".to_string(),
                )),
            ),
            (11, Some(6), ad, refused(RejectReason::InvalidUtf8.into())),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn a_header_of_unknown_columns_refuses_every_row() {
        let mut got = Vec::new();
        decode(b"a,b\n1,2\n3,4\n", &Limits::default(), &mut |r: Record<
            '_,
        >| {
            got.push(r.result.map(|_| ()));
        });
        assert_eq!(got, vec![Err(RejectReason::UnknownShape.into()); 2]);
        let mut count = 0;
        decode(
            b"TimeGenerated,OperationName\n",
            &Limits::default(),
            &mut |_| count += 1,
        );
        assert_eq!(count, 0, "a header alone holds no record");
    }
}
