//! Reading IAM policy documents (bucket policies, IAM policies, trust
//! policies) in their normalised shape: which statements allow everything,
//! which are public, which deny insecure transport.

use pacbot_core::Attr;

use super::strings;

/// Condition keys whose fixed values limit a statement to known callers.
const RESTRICTING_KEYS: [&str; 13] = [
    "aws:sourceip",
    "aws:sourcevpc",
    "aws:sourcevpce",
    "aws:sourcearn",
    "aws:sourceaccount",
    "aws:sourceowner",
    "aws:principalorgid",
    "aws:principalorgpaths",
    "aws:principalaccount",
    "aws:principalarn",
    "aws:userid",
    "s3:x-amz-server-side-encryption-aws-kms-key-id",
    "s3:dataaccesspointaccount",
];

/// Operators that pin a key to the values written.
const PINNING_OPERATORS: [&str; 7] =
    ["stringequals", "stringequalsignorecase", "stringlike", "arnequals", "arnlike", "ipaddress", "numericequals"];

/// The statements of a document.
pub(crate) fn statements(doc: Attr<'_>) -> impl Iterator<Item = Attr<'_>> {
    let st = doc.field("Statement");
    // A document that escaped normalisation may hold one statement object.
    let single = st.as_object().is_some().then_some(st);
    st.elements().chain(single)
}

/// How a statement is named in reasons: `statement 2 (Sid "PublicRead")`.
pub(crate) fn label(index: usize, st: Attr<'_>) -> String {
    match st.field("Sid").as_str().filter(|s| !s.is_empty()) {
        Some(sid) => format!("statement {index} (Sid `{sid}`)"),
        None => format!("statement {index}"),
    }
}

fn effect(st: Attr<'_>) -> Option<&str> {
    st.field("Effect").as_str()
}

/// Whether the statement is `Allow`.
pub(crate) fn allows(st: Attr<'_>) -> bool {
    effect(st).is_some_and(|e| e.eq_ignore_ascii_case("Allow"))
}

/// Whether the statement is `Deny`.
pub(crate) fn denies(st: Attr<'_>) -> bool {
    effect(st).is_some_and(|e| e.eq_ignore_ascii_case("Deny"))
}

fn has_condition(st: Attr<'_>) -> bool {
    st.field("Condition").len().is_some_and(|n| n > 0)
}

/// Whether the statement's actions are every action (`*` or `*:*`, without
/// `NotAction`) and its resources every resource (`*`, without `NotResource`).
pub(crate) fn covers_everything(st: Attr<'_>) -> bool {
    let all_actions = strings(st.field("Action")).iter().any(|a| *a == "*" || *a == "*:*");
    let all_resources = strings(st.field("Resource")).contains(&"*");
    all_actions && all_resources && !st.field("NotAction").exists() && !st.field("NotResource").exists()
}

/// The statement that allows every action on every resource, if any:
/// its label, with `(with conditions)` when it has some.
pub(crate) fn grants_everything(doc: Attr<'_>) -> Option<String> {
    statements(doc).enumerate().find(|(_, st)| allows(*st) && covers_everything(*st)).map(|(i, st)| {
        let mut s = label(i, st);
        if has_condition(st) {
            s.push_str(" (with conditions)");
        }
        s
    })
}

/// Whether the document denies every action on every resource without
/// conditions, cancelling any grant.
pub(crate) fn denies_everything(doc: Attr<'_>) -> bool {
    statements(doc).any(|st| denies(st) && covers_everything(st) && !has_condition(st))
}

/// Whether a statement's principal is anyone: `*`, `{"AWS": "*"}` (also
/// `CanonicalUser`, and ARNs with a wildcard such as `arn:aws:iam::*:root`),
/// or any `NotPrincipal` (everyone but those named).
pub(crate) fn principal_is_anyone(st: Attr<'_>) -> bool {
    if st.field("NotPrincipal").exists() && !st.field("NotPrincipal").is_null() {
        return true;
    }
    let p = st.field("Principal");
    if p.as_str() == Some("*") {
        return true;
    }
    ["AWS", "CanonicalUser"].iter().any(|k| strings(p.field(k)).iter().any(|v| v.contains('*')))
}

/// The first condition that pins the statement to known callers:
/// `StringEquals aws:SourceVpce`. `extra` adds keys that pin in this kind of
/// document (`sts:ExternalId` in trust policies).
pub(crate) fn restricting_condition(st: Attr<'_>, extra: &[&str]) -> Option<String> {
    for (op, keys) in st.field("Condition").entries() {
        let lower = op.to_ascii_lowercase();
        let base = lower.strip_prefix("foranyvalue:").unwrap_or(&lower);
        if !PINNING_OPERATORS.contains(&base) {
            continue; // negated, …IfExists, ForAllValues:, Bool, Null: they pin nothing
        }
        for (key, values) in keys.entries() {
            let k = key.to_ascii_lowercase();
            if !RESTRICTING_KEYS.contains(&k.as_str()) && !extra.iter().any(|e| e.eq_ignore_ascii_case(&k)) {
                continue;
            }
            let values = strings(values);
            let fixed = !values.is_empty()
                && values.iter().all(|v| {
                    if k == "aws:sourceip" {
                        !super::sg::is_world(v)
                    } else {
                        !v.contains(['*', '?']) && !v.contains("${")
                    }
                });
            if fixed {
                return Some(format!("{op} {key}"));
            }
        }
    }
    None
}

/// The statements that make the document public: `Allow` to anyone with no
/// restricting condition. Each as `statement 0 (Sid …) allows s3:GetObject to anyone`.
pub(crate) fn public_statements(doc: Attr<'_>, extra_keys: &[&str]) -> Vec<String> {
    statements(doc)
        .enumerate()
        .filter(|(_, st)| allows(*st) && principal_is_anyone(*st) && restricting_condition(*st, extra_keys).is_none())
        .map(|(i, st)| {
            let actions = strings(st.field("Action"));
            let what = if actions.is_empty() {
                let not = strings(st.field("NotAction"));
                format!("every action except {}", not.join(", "))
            } else {
                actions.join(", ")
            };
            let who = if st.field("NotPrincipal").exists() { "everyone but the NotPrincipal" } else { "anyone" };
            format!("{} allows {what} to {who}", label(i, st))
        })
        .collect()
}

/// Whether the document denies requests that do not use TLS: a `Deny` to
/// anyone of `s3:*` or `*` (or `s3:GetObject`/`s3:PutObject` both) with
/// `Bool aws:SecureTransport false`.
pub(crate) fn denies_insecure_transport(doc: Attr<'_>) -> bool {
    statements(doc).any(|st| {
        let actions = strings(st.field("Action"));
        let broad = actions.iter().any(|a| *a == "*" || a.eq_ignore_ascii_case("s3:*"))
            || (actions.iter().any(|a| a.eq_ignore_ascii_case("s3:GetObject"))
                && actions.iter().any(|a| a.eq_ignore_ascii_case("s3:PutObject")));
        denies(st) && principal_is_anyone(st) && broad && secure_transport_false(st.field("Condition"))
    })
}

fn secure_transport_false(condition: Attr<'_>) -> bool {
    condition.entries().any(|(op, keys)| {
        op.eq_ignore_ascii_case("Bool")
            && keys.entries().any(|(k, v)| {
                k.eq_ignore_ascii_case("aws:SecureTransport")
                    && (v.as_bool() == Some(false)
                        || strings(v).iter().any(|s| s.eq_ignore_ascii_case("false"))
                        || v.elements().any(|e| e.as_bool() == Some(false)))
            })
    })
}
