//! What the vaults hold: their secrets, keys, certificates and starting configuration.
//!
//! Names follow what real teams create (`orders-db-connection`, `SendGridApiKey`,
//! `sql-tde-protector`, `www-fabrikam-com`), a few objects carry an expiry date (the
//! near-expiry notifications come from them), and each vault starts with the
//! configuration its role implies: RBAC or access policies, purge protection, disk
//! encryption access, and the payments vault's firewall.

use rand::RngExt;

use super::ids::{self, SimRng};
use super::places::pool_named;
use super::vaults::{Config, Firewall, Kind, Object, Vault};

const SERVICES: &[&str] = &[
    "orders",
    "billing",
    "inventory",
    "shipping",
    "catalog",
    "checkout",
    "notifications",
    "search",
    "identity",
    "reporting",
    "loyalty",
    "pricing",
];
const SECRET_KINDS: &[&str] = &[
    "db-connection",
    "api-key",
    "servicebus-connection",
    "storage-key",
    "jwt-signing-key",
    "redis-password",
    "client-secret",
    "webhook-secret",
];

fn objects(
    rng: &mut SimRng,
    names: Vec<String>,
    expiring_share: f64,
    period_start_hint: i64,
) -> Vec<Object> {
    names
        .into_iter()
        .map(|name| {
            let expires = rng
                .random_bool(expiring_share)
                .then(|| period_start_hint + rng.random_range(20..400) * 86_400);
            Object {
                name,
                version: ids::version(rng),
                expires,
            }
        })
        .collect()
}

fn service_secrets(rng: &mut SimRng, count: usize, extra: &[&str]) -> Vec<String> {
    let mut names: Vec<String> = extra.iter().map(std::string::ToString::to_string).collect();
    let mut i = 0usize;
    while names.len() < count {
        let service = SERVICES[i % SERVICES.len()];
        let kind = SECRET_KINDS[(i * 5 + i / SERVICES.len()) % SECRET_KINDS.len()];
        let name = format!("{service}-{kind}");
        if !names.contains(&name) {
            names.push(name);
        }
        i += 1;
        if i > 10 * count + 100 {
            names.push(format!("app-secret-{}", rng.random_range(100..999)));
        }
    }
    names
}

fn base_config(tenant: &str, rbac: bool, purge: bool, soft_delete_days: u32) -> Config {
    Config {
        sku: "standard",
        tenant_id: tenant.to_owned(),
        firewall: None,
        for_deployment: false,
        for_disk_encryption: false,
        for_template_deployment: false,
        soft_delete_days,
        rbac,
        purge_protection: purge,
    }
}

/// The tenant's vaults (index constants in [`super::tenant`]).
pub(crate) fn build_vaults(
    rng: &mut SimRng,
    tenant: &str,
    subs: &[String; 2],
    with_hsm: bool,
) -> Vec<Vault> {
    // Expiry dates are relative to a fixed hint; notifications are planned from them.
    let hint = 1_790_000_000;
    let vault = |name: &str, sub: &str, rg: &str, location, purpose, initial: Config| Vault {
        name: name.to_owned(),
        lower: name.to_ascii_lowercase(),
        kind: Kind::Vault,
        subscription: sub.to_owned(),
        resource_group: rg.to_owned(),
        location,
        purpose,
        secrets: vec![],
        keys: vec![],
        certificates: vec![],
        initial,
    };
    let mut app = vault(
        "fab-prod-app-kv",
        &subs[0],
        "rg-prod-app",
        "westeurope",
        "application secrets (RBAC)",
        base_config(tenant, true, true, 90),
    );
    let names = service_secrets(rng, 45, &["SendGridApiKey", "orders-db-password"]);
    app.secrets = objects(rng, names, 0.15, hint);
    let mut data_config = base_config(tenant, false, true, 90);
    data_config.for_disk_encryption = true;
    let mut data = vault(
        "fab-prod-data-kv",
        &subs[0],
        "rg-prod-data",
        "westeurope",
        "customer-managed keys and data-platform secrets (access policies)",
        data_config,
    );
    data.keys = objects(
        rng,
        [
            "storage-cmk",
            "sql-tde-protector",
            "disk-kek",
            "backup-signing-key",
        ]
        .map(String::from)
        .to_vec(),
        0.0,
        hint,
    );
    data.secrets = objects(
        rng,
        [
            "sql-admin-password",
            "reporting-db-user",
            "reporting-db-password",
            "reporting-warehouse-conn",
            "etl-sftp-password",
            "datalake-sas",
            "synapse-admin",
            "cosmos-primary-key",
            "adf-linked-service",
            "powerbi-gateway-key",
            "dwh-readonly-password",
            "kafka-sasl-password",
            "legacy-erp-conn",
            "databricks-token",
            "snowflake-key",
        ]
        .map(String::from)
        .to_vec(),
        0.1,
        hint,
    );
    let office = pool_named("fr-office-paris").net.to_string();
    let london = pool_named("gb-office-london").net.to_string();
    let mut pay_config = base_config(tenant, true, true, 90);
    pay_config.firewall = Some(Firewall {
        bypass: "AzureServices",
        deny: true,
        ip_rules: vec![office, london],
        vnet_rules: vec![super::workloads::payments_subnet(&subs[0]).to_ascii_lowercase()],
    });
    let mut pay = vault("fabPaymentsKV", &subs[0], "rg-prod-payments", "francecentral", "payment-provider credentials; firewall Deny, office IP rules and the payments subnet (RBAC)", pay_config);
    pay.secrets = objects(
        rng,
        [
            "psp-api-key",
            "psp-webhook-secret",
            "card-vault-token",
            "acquirer-sftp-key",
            "fraud-api-key",
            "payments-db-password",
            "settlement-pgp-key",
            "3ds-signing-secret",
            "refunds-api-key",
            "payouts-client-secret",
            "psp-sandbox-key",
            "chargeback-portal-pass",
        ]
        .map(String::from)
        .to_vec(),
        0.2,
        hint,
    );
    let mut dev = vault(
        "fab-dev-kv",
        &subs[1],
        "rg-dev-shared",
        "westeurope",
        "development and test secrets (access policies)",
        base_config(tenant, false, false, 7),
    );
    let names = service_secrets(rng, 30, &["dev-db-password", "test-user-password"])
        .into_iter()
        .map(|s| format!("dev-{s}").replace("dev-dev-", "dev-"))
        .collect();
    dev.secrets = objects(rng, names, 0.1, hint);
    let mut certs = vault(
        "fab-shared-certs-kv",
        &subs[0],
        "rg-prod-shared",
        "westeurope",
        "TLS certificates for the application gateway (RBAC)",
        base_config(tenant, true, true, 90),
    );
    let cert_names: Vec<String> = [
        "www-fabrikam-com",
        "api-fabrikam-com",
        "shop-fabrikam-com",
        "partners-fabrikam-com",
        "internal-wildcard",
        "mtls-client-ca",
    ]
    .map(String::from)
    .to_vec();
    certs.certificates = objects(rng, cert_names.clone(), 0.3, hint);
    certs.secrets = certs
        .certificates
        .iter()
        .map(|c| Object {
            name: c.name.clone(),
            version: c.version.clone(),
            expires: c.expires,
        })
        .collect();
    let mut vaults = vec![app, data, pay, dev, certs];
    if with_hsm {
        let mut hsm = vault(
            "fab-prod-hsm",
            &subs[0],
            "rg-prod-data",
            "westeurope",
            "Managed HSM holding the archive storage key (local RBAC)",
            base_config(tenant, true, true, 90),
        );
        hsm.kind = Kind::ManagedHsm;
        hsm.initial.sku = "Standard_B1";
        hsm.keys = objects(
            rng,
            vec!["archive-cmk".into(), "signing-hsm-key".into()],
            0.0,
            hint,
        );
        vaults.push(hsm);
    }
    vaults
}
