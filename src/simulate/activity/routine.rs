//! The Activity Log's everyday traffic: what a SOC must learn to ignore.
//!
//! - The deploy pipeline (infrastructure as code) re-applies the tenant's role
//!   assignments every morning: two dozen `roleAssignments/write` calls, most
//!   re-writing an assignment that already exists (`Succeeded.OK`), a third refused
//!   as `Failed.Conflict` / `RoleAssignmentExists` (assignments created with another
//!   name).
//! - Azure Policy's identity (a `DeployIfNotExists` assignment) re-writes every
//!   vault's diagnostic setting every third night, `AuditEvent` still enabled.
//! - Admins grant Key Vault Secrets User to new hires on their first day, give the
//!   security analyst Key Vault Reader on the production subscription, and remove a
//!   contractor's assignment; these are labelled `access_change` for `control_plane` (low or info).
//! - Every `VaultPut`/`VaultPatch` in the AuditEvent log has its `vaults/write`
//!   twin here, a second or two earlier, with its own correlation id.

use rand::RngExt;

use super::super::clock::{Zone, DAY, HOUR, MINUTE, SECOND};
use super::super::ids;
use super::super::plan::{Actor as PlanActor, Ctx, Plan};
use super::super::request::Identity;
use super::super::tenant::{appid, APP, CERTS, DATA, PAY};
use super::super::vaults::Kind;
use super::record::{
    diagnostic_setting_body, role_assignment_request, role_assignment_response, Actor, ArmCall,
    Ending, Evidence,
};
use super::{
    group_id, hierarchy, role, stream, subscription_of, user_actor, vault_id, ActivityLog,
};

const ROLE_ASSIGNMENTS_WRITE: &str = "Microsoft.Authorization/roleAssignments/write";
const ROLE_ASSIGNMENTS_DELETE: &str = "Microsoft.Authorization/roleAssignments/delete";

/// A role assignment the tenant keeps in code.
struct Assignment {
    principal: String,
    principal_type: &'static str,
    role: &'static str,
    scope: String,
    subscription: usize,
    id: String,
}

/// The assignments the pipeline re-applies: workload identities on their vaults,
/// and two groups on every vault's resource group or vault.
fn iac_assignments(ctx: &Ctx<'_>) -> Vec<Assignment> {
    let t = ctx.tenant;
    let table: &[(&str, usize, &str)] = &[
        ("orders-api", APP, role::KV_SECRETS_USER),
        ("billing-worker", APP, role::KV_SECRETS_USER),
        ("func-orders-prod", APP, role::KV_SECRETS_USER),
        ("gh-deploy-prod", APP, role::KV_SECRETS_OFFICER),
        ("gh-deploy-prod", CERTS, role::KV_CERTIFICATES_OFFICER),
        ("backup-automation", APP, role::KV_ADMINISTRATOR),
        ("backup-automation", DATA, role::KV_ADMINISTRATOR),
        ("backup-automation", CERTS, role::KV_ADMINISTRATOR),
        ("reporting-etl", DATA, role::KV_SECRETS_USER),
        ("id-payments-api", PAY, role::KV_SECRETS_USER),
        ("id-appgw-prod", CERTS, role::KV_CERTIFICATE_USER),
        ("stfabproddata", DATA, role::KV_CRYPTO_SERVICE_ENCRYPTION),
        ("sql-fab-prod", DATA, role::KV_CRYPTO_SERVICE_ENCRYPTION),
        ("id-des-prod", DATA, role::KV_CRYPTO_SERVICE_ENCRYPTION),
    ];
    let mut out = Vec::new();
    for (i, (name, vault, role)) in table.iter().enumerate() {
        let (Some(w), Some(v)) = (
            t.workloads.iter().find(|w| w.name == *name),
            t.vaults.get(*vault),
        ) else {
            continue;
        };
        out.push(Assignment {
            principal: w.principal.oid.clone(),
            principal_type: "ServicePrincipal",
            role,
            scope: vault_id(v),
            subscription: subscription_of(t, v),
            id: ids::guid_of(ctx.seed, "activity-iac-assignment", i as u64),
        });
    }
    let groups = [
        ("grp-kv-readers", role::KV_READER),
        ("grp-platform-admins", role::KV_ADMINISTRATOR),
    ];
    for (g, (name, role)) in groups.iter().enumerate() {
        let group = ids::guid_of(ctx.seed, "activity-group", g as u64);
        for (i, v) in t
            .vaults
            .iter()
            .filter(|v| v.kind == Kind::Vault)
            .enumerate()
        {
            let scope = if *name == "grp-kv-readers" {
                group_id(v)
            } else {
                vault_id(v)
            };
            out.push(Assignment {
                principal: group.clone(),
                principal_type: "Group",
                role,
                scope,
                subscription: subscription_of(t, v),
                id: ids::guid_of(ctx.seed, name, i as u64),
            });
        }
    }
    out
}

/// The daily re-apply by the deploy pipeline, around 05:30 UTC.
pub(super) fn iac_reapplies(ctx: &Ctx<'_>, log: &mut ActivityLog) {
    let t = ctx.tenant;
    let Some(pipeline) = t.workloads.iter().find(|w| w.name == "gh-deploy-prod") else {
        return;
    };
    let actor = Actor::App {
        oid: pipeline.principal.oid.clone(),
        appid: pipeline.principal.appid.clone(),
        mirid: None,
    };
    let assignments = iac_assignments(ctx);
    for day in 0..ctx.days {
        let mut rng = stream(ctx.seed, "iac", u64::from(day));
        let ip = super::super::scenarios::ip(&mut rng, "azure-eastus");
        let mut at = ctx.start + i64::from(day) * DAY + 5 * HOUR + rng.random_range(0..40) * MINUTE;
        for (i, a) in assignments.iter().enumerate() {
            at += rng.random_range(SECOND / 2..3 * SECOND);
            let resource = format!(
                "{}/providers/Microsoft.Authorization/roleAssignments/{}",
                a.scope, a.id
            );
            let sub = &t.subscriptions[a.subscription];
            let request = role_assignment_request(
                &a.id,
                &a.principal,
                a.principal_type,
                sub,
                a.role,
                &a.scope,
            );
            // A third were created under other names: the re-apply is refused.
            let ending = if i % 3 == 2 {
                Ending::Conflict("RoleAssignmentExists")
            } else {
                Ending::Ok
            };
            let call = ArmCall {
                time: at,
                actor: &actor,
                ip,
                operation: ROLE_ASSIGNMENTS_WRITE,
                response_body: Some(role_assignment_response(&request, &resource, actor.key())),
                request_body: Some(request),
                resource_id: resource,
                hierarchy: hierarchy(t, a.subscription),
                tenant: &t.tenant_id,
                evidence: Some(Evidence {
                    role: "Role Based Access Control Administrator",
                    role_definition: role::RBAC_ADMINISTRATOR,
                    scope: format!("/subscriptions/{sub}"),
                    assignment: ids::guid_of(
                        ctx.seed,
                        "activity-pipeline-rbac",
                        a.subscription as u64,
                    ),
                }),
                ending,
            };
            log.push(&mut rng, &call, a.subscription);
        }
    }
}

/// Azure Policy re-writes every vault's diagnostic setting every third night.
pub(super) fn policy_diagnostic_settings(ctx: &Ctx<'_>, log: &mut ActivityLog) {
    let t = ctx.tenant;
    let sub = &t.subscriptions[0];
    let actor = Actor::App {
        oid: ids::guid_of(ctx.seed, "activity-policy-identity", 0),
        appid: ids::guid_of(ctx.seed, "activity-policy-identity", 1),
        mirid: Some(format!(
            "/subscriptions/{sub}/resourceGroups/rg-governance/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-policy-kv-diagnostics"
        )),
    };
    let destination = format!(
        "/subscriptions/{sub}/resourceGroups/rg-monitoring/providers/Microsoft.EventHub/namespaces/fab-audit/authorizationRules/RootManageSharedAccessKey"
    );
    for day in (1..ctx.days).step_by(3) {
        let mut rng = stream(ctx.seed, "policy", u64::from(day));
        let ip = super::super::scenarios::ip(&mut rng, "azure-westeurope");
        let mut at = ctx.start + i64::from(day) * DAY + 3 * HOUR + rng.random_range(0..50) * MINUTE;
        for v in &t.vaults {
            at += rng.random_range(2 * SECOND..40 * SECOND);
            let s = subscription_of(t, v);
            let call = ArmCall {
                time: at,
                actor: &actor,
                ip,
                operation: "Microsoft.Insights/diagnosticSettings/write",
                resource_id: format!(
                    "{}/providers/Microsoft.Insights/diagnosticSettings/kvwatch-eventhub",
                    vault_id(v)
                ),
                hierarchy: hierarchy(t, s),
                tenant: &t.tenant_id,
                evidence: Some(Evidence {
                    role: "Contributor",
                    role_definition: role::CONTRIBUTOR,
                    scope: format!("/subscriptions/{}", t.subscriptions[s]),
                    assignment: ids::guid_of(ctx.seed, "activity-policy-contributor", s as u64),
                }),
                request_body: Some(diagnostic_setting_body((
                    "eventHubAuthorizationRuleId",
                    &destination,
                ))),
                response_body: None,
                ending: Ending::Ok,
            };
            log.push(&mut rng, &call, s);
        }
    }
}

/// Admins' sanctioned grants and removals, labelled `access_change`.
pub(super) fn admin_grants(ctx: &Ctx<'_>, plan: &mut Plan, log: &mut ActivityLog) {
    let t = ctx.tenant;
    let Some(app) = t.vaults.get(APP) else { return };
    let admin_idx = super::super::scenarios::user(t, "Camille Martin");
    let admin = user_actor(t, admin_idx, appid::PORTAL_ARM);
    let sub = subscription_of(t, app);
    let owner = Evidence {
        role: "Owner",
        role_definition: role::OWNER,
        scope: format!("/subscriptions/{}", t.subscriptions[sub]),
        assignment: ids::guid_of(ctx.seed, "activity-admin-owner", 0),
    };
    let mut grants: Vec<(u32, String, &'static str, String, &'static str)> = t
        .users
        .iter()
        .filter(|u| u.start_day > 0 && u.start_day < ctx.days)
        .map(|u| {
            (
                u.start_day,
                u.oid.clone(),
                role::KV_SECRETS_USER,
                vault_id(app),
                "Key Vault Secrets User on the RBAC app vault for a new hire",
            )
        })
        .collect();
    let analyst = &t.users[super::super::scenarios::user(t, "Oliver Smith")];
    grants.push((
        (ctx.days / 3).max(1).min(ctx.days - 1),
        analyst.oid.clone(),
        role::KV_READER,
        format!("/subscriptions/{}", t.subscriptions[sub]),
        "Key Vault Reader on the production subscription for the security analyst (metadata only)",
    ));
    for (n, (day, grantee, role_id, scope, what)) in grants.into_iter().enumerate() {
        let mut rng = stream(ctx.seed, "admin-grant", n as u64);
        let at = Zone::Europe(60).at(ctx.date(day), rng.random_range(9.2..11.5));
        let id = ids::guid(&mut rng);
        let resource = format!("{scope}/providers/Microsoft.Authorization/roleAssignments/{id}");
        let request = role_assignment_request(
            &id,
            &grantee,
            "User",
            &t.subscriptions[sub],
            role_id,
            &scope,
        );
        let ip = t.users[admin_idx].home_ip;
        let call = ArmCall {
            time: at,
            actor: &admin,
            ip,
            operation: ROLE_ASSIGNMENTS_WRITE,
            response_body: Some(role_assignment_response(&request, &resource, admin.key())),
            request_body: Some(request),
            resource_id: resource,
            hierarchy: hierarchy(t, sub),
            tenant: &t.tenant_id,
            evidence: Some(owner.clone()),
            ending: Ending::Created,
        };
        log.push(&mut rng, &call, sub);
        let mark = plan.mark();
        plan.label(
            mark,
            "access_change",
            "rbac_admin_grant",
            "control_plane",
            admin.key(),
            if scope.contains("/vaults/") {
                &app.lower
            } else {
                "*"
            },
            Some((at, at + 30 * SECOND)),
            format!("admin {} grants {what} ({grantee})", t.users[admin_idx].upn),
        );
    }
    // A contractor's access removed at the end of the engagement.
    let mut rng = stream(ctx.seed, "admin-removal", 0);
    let day = (ctx.days / 2).min(ctx.days - 1);
    let remover = super::super::scenarios::user(t, "Michael Johnson");
    let actor = user_actor(t, remover, appid::CLI);
    let contractor = ids::guid(&mut rng);
    let id = ids::guid(&mut rng);
    let at = Zone::UsPacific.at(ctx.date(day), rng.random_range(10.0..16.0));
    let scope = vault_id(app);
    let resource = format!("{scope}/providers/Microsoft.Authorization/roleAssignments/{id}");
    let request = role_assignment_request(
        &id,
        &contractor,
        "User",
        &t.subscriptions[sub],
        role::KV_SECRETS_USER,
        &scope,
    );
    let call = ArmCall {
        time: at,
        actor: &actor,
        ip: t.users[remover].home_ip,
        operation: ROLE_ASSIGNMENTS_DELETE,
        request_body: None,
        response_body: Some(role_assignment_response(&request, &resource, actor.key())),
        resource_id: resource,
        hierarchy: hierarchy(t, sub),
        tenant: &t.tenant_id,
        evidence: Some(owner),
        ending: Ending::Ok,
    };
    log.push(&mut rng, &call, sub);
    plan.actors.push(PlanActor {
        role: "contractor whose Key Vault Secrets User assignment is removed (Activity Log)".into(),
        oid: contractor.clone(),
        appid: None,
        addresses: Vec::new(),
    });
    let mark = plan.mark();
    plan.label(
        mark,
        "access_change",
        "rbac_admin_removal",
        "control_plane",
        actor.key(),
        &app.lower,
        Some((at, at + 30 * SECOND)),
        format!(
            "admin {} removes a contractor's ({contractor}) Key Vault Secrets User assignment on the app vault",
            t.users[remover].upn
        ),
    );
}

/// The `vaults/write` twin of every ARM `VaultPut`/`VaultPatch` in the AuditEvent plan.
pub(super) fn vault_write_twins(ctx: &Ctx<'_>, plan: &Plan, log: &mut ActivityLog) {
    let t = ctx.tenant;
    let mut rng = stream(ctx.seed, "vault-writes", 0);
    for r in plan
        .requests
        .iter()
        .filter(|r| matches!(r.op, "VaultPut" | "VaultPatch"))
    {
        let Some(v) = t.vaults.get(r.vault) else {
            continue;
        };
        let actor = match &r.caller.identity {
            Identity::ArmUser { oid, upn, appid } => Actor::User {
                oid: oid.clone(),
                upn: upn.clone(),
                name: upn.split('@').next().unwrap_or(upn).to_owned(),
                appid,
                mfa: true,
            },
            Identity::App(token) => Actor::App {
                oid: token.oid.clone(),
                appid: token.appid.clone(),
                mirid: token.mirid.clone(),
            },
            Identity::ArmApp { oid, appid } => Actor::App {
                oid: oid.clone(),
                appid: appid.to_string(),
                mirid: None,
            },
            _ => continue,
        };
        let s = subscription_of(t, v);
        let operation = match v.kind {
            Kind::Vault => "Microsoft.KeyVault/vaults/write",
            Kind::ManagedHsm => "Microsoft.KeyVault/managedHSMs/write",
        };
        let call = ArmCall {
            time: r.time - rng.random_range(SECOND..2 * SECOND),
            actor: &actor,
            ip: r.caller.ip,
            operation,
            resource_id: vault_id(v),
            hierarchy: hierarchy(t, s),
            tenant: &t.tenant_id,
            evidence: Some(Evidence {
                role: "Owner",
                role_definition: role::OWNER,
                scope: format!("/subscriptions/{}", t.subscriptions[s]),
                assignment: ids::guid_of(ctx.seed, "activity-owner", ids::label_hash(actor.key())),
            }),
            request_body: None,
            response_body: None,
            ending: Ending::Ok,
        };
        log.push(&mut rng, &call, s);
    }
}
