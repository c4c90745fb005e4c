//! The attribute documents of the AWS kinds, as Rust types.
//!
//! Each type serializes to the documented shape of its kind (see
//! [`crate::docs::shapes`]); the connectors build assets through them, and the
//! tests check the documented examples against them. Times are
//! `DateTime<Utc>` (RFC 3339 in JSON); policy documents are normalised JSON
//! (see [`normalize_policy`]).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The kind names, as constants.
pub mod kind {
    /// An EC2 instance.
    pub const INSTANCE: &str = "aws.ec2.instance";
    /// A security group.
    pub const SECURITY_GROUP: &str = "aws.ec2.security_group";
    /// An EBS volume.
    pub const VOLUME: &str = "aws.ec2.volume";
    /// An EBS snapshot owned by the account.
    pub const SNAPSHOT: &str = "aws.ec2.snapshot";
    /// A VPC.
    pub const VPC: &str = "aws.ec2.vpc";
    /// A subnet.
    pub const SUBNET: &str = "aws.ec2.subnet";
    /// A route table.
    pub const ROUTE_TABLE: &str = "aws.ec2.route_table";
    /// An elastic IP address.
    pub const ADDRESS: &str = "aws.ec2.address";
    /// A region's EC2 account settings (EBS default encryption).
    pub const EC2_ACCOUNT_SETTINGS: &str = "aws.ec2.account_settings";
    /// An S3 bucket.
    pub const BUCKET: &str = "aws.s3.bucket";
    /// The account-wide S3 settings (public access block).
    pub const S3_ACCOUNT_SETTINGS: &str = "aws.s3.account_settings";
    /// An IAM user.
    pub const USER: &str = "aws.iam.user";
    /// An IAM group.
    pub const GROUP: &str = "aws.iam.group";
    /// An IAM role.
    pub const ROLE: &str = "aws.iam.role";
    /// A customer managed IAM policy.
    pub const POLICY: &str = "aws.iam.policy";
    /// The account password policy.
    pub const PASSWORD_POLICY: &str = "aws.iam.password_policy";
    /// The IAM account summary.
    pub const ACCOUNT_SUMMARY: &str = "aws.iam.account_summary";

    /// Every kind, regional ones first.
    pub const ALL: [&str; 17] = [
        INSTANCE,
        SECURITY_GROUP,
        VOLUME,
        SNAPSHOT,
        VPC,
        SUBNET,
        ROUTE_TABLE,
        ADDRESS,
        EC2_ACCOUNT_SETTINGS,
        BUCKET,
        S3_ACCOUNT_SETTINGS,
        USER,
        GROUP,
        ROLE,
        POLICY,
        PASSWORD_POLICY,
        ACCOUNT_SUMMARY,
    ];
}

/// `aws.ec2.instance`.
#[allow(missing_docs)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Instance {
    pub instance_id: String,
    pub instance_type: Option<String>,
    pub image_id: Option<String>,
    pub state: InstanceState,
    pub state_transition_reason: Option<String>,
    pub state_transition_time: Option<DateTime<Utc>>,
    pub launch_time: Option<DateTime<Utc>>,
    pub public_ip: Option<String>,
    pub public_dns_name: Option<String>,
    pub private_ip: Option<String>,
    pub ipv6_addresses: Vec<String>,
    pub vpc_id: Option<String>,
    pub subnet_id: Option<String>,
    pub security_group_ids: Vec<String>,
    pub iam_instance_profile_arn: Option<String>,
    pub key_name: Option<String>,
    pub platform: Option<String>,
    pub monitoring: Option<String>,
    pub metadata_options: MetadataOptions,
    pub volume_ids: Vec<String>,
    pub network_interface_ids: Vec<String>,
}

/// An instance's state.
#[allow(missing_docs)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstanceState {
    pub name: String,
    pub code: Option<i32>,
}

/// An instance's metadata service options.
#[allow(missing_docs)]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetadataOptions {
    pub http_tokens: Option<String>,
    pub http_endpoint: Option<String>,
    pub http_put_response_hop_limit: Option<i32>,
}

/// `aws.ec2.security_group`.
#[allow(missing_docs)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecurityGroup {
    pub group_id: String,
    pub group_name: Option<String>,
    pub description: Option<String>,
    pub vpc_id: Option<String>,
    pub owner_id: Option<String>,
    pub is_default: bool,
    pub ingress: Vec<SgRule>,
    pub egress: Vec<SgRule>,
    pub network_interface_count: u64,
    pub referenced_by: Vec<String>,
}

/// One flattened security group rule: one protocol, one port range, one source.
#[allow(missing_docs)]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SgRule {
    pub protocol: String,
    pub from_port: i32,
    pub to_port: i32,
    pub cidr: Option<String>,
    pub ipv6: bool,
    pub group_id: Option<String>,
    pub group_owner_id: Option<String>,
    pub prefix_list_id: Option<String>,
    pub description: Option<String>,
}

/// `aws.ec2.volume`.
#[allow(missing_docs)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Volume {
    pub volume_id: String,
    pub volume_type: Option<String>,
    pub size_gib: Option<i32>,
    pub iops: Option<i32>,
    pub state: Option<String>,
    pub encrypted: bool,
    pub kms_key_id: Option<String>,
    pub snapshot_id: Option<String>,
    pub availability_zone: Option<String>,
    pub create_time: Option<DateTime<Utc>>,
    pub attachments: Vec<VolumeAttachment>,
}

/// A volume's attachment to an instance.
#[allow(missing_docs)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VolumeAttachment {
    pub instance_id: Option<String>,
    pub device: Option<String>,
    pub state: Option<String>,
    pub delete_on_termination: Option<bool>,
}

/// `aws.ec2.snapshot`.
#[allow(missing_docs)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Snapshot {
    pub snapshot_id: String,
    pub volume_id: Option<String>,
    pub volume_size_gib: Option<i32>,
    pub state: Option<String>,
    pub encrypted: bool,
    pub kms_key_id: Option<String>,
    pub owner_id: Option<String>,
    pub description: Option<String>,
    pub start_time: Option<DateTime<Utc>>,
    pub create_volume_permissions: Vec<CreateVolumePermission>,
    pub public: bool,
}

/// Who may create volumes from a snapshot.
#[allow(missing_docs)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateVolumePermission {
    pub group: Option<String>,
    pub user_id: Option<String>,
}

/// `aws.ec2.vpc`.
#[allow(missing_docs)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vpc {
    pub vpc_id: String,
    pub cidr_block: Option<String>,
    pub ipv6_cidr_blocks: Vec<String>,
    pub is_default: bool,
    pub state: Option<String>,
    pub owner_id: Option<String>,
    pub instance_tenancy: Option<String>,
    pub internet_gateway_ids: Vec<String>,
    pub flow_logs: Vec<FlowLog>,
}

/// A VPC flow log.
#[allow(missing_docs)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowLog {
    pub flow_log_id: Option<String>,
    pub status: Option<String>,
    pub traffic_type: Option<String>,
}

/// `aws.ec2.subnet`.
#[allow(missing_docs)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subnet {
    pub subnet_id: String,
    pub vpc_id: Option<String>,
    pub cidr_block: Option<String>,
    pub ipv6_cidr_blocks: Vec<String>,
    pub availability_zone: Option<String>,
    pub state: Option<String>,
    pub default_for_az: bool,
    pub map_public_ip_on_launch: bool,
    pub route_table_id: Option<String>,
    pub route_table_explicit: bool,
    pub routes_to_internet_gateway: bool,
}

/// `aws.ec2.route_table`.
#[allow(missing_docs)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteTable {
    pub route_table_id: String,
    pub vpc_id: Option<String>,
    pub main: bool,
    pub subnet_ids: Vec<String>,
    pub routes: Vec<Route>,
}

/// One route.
#[allow(missing_docs)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    pub destination: Option<String>,
    pub target: Option<String>,
    pub state: Option<String>,
}

/// `aws.ec2.address`.
#[allow(missing_docs)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Address {
    pub allocation_id: Option<String>,
    pub public_ip: Option<String>,
    pub domain: Option<String>,
    pub associated: bool,
    pub association_id: Option<String>,
    pub instance_id: Option<String>,
    pub network_interface_id: Option<String>,
    pub private_ip: Option<String>,
}

/// `aws.ec2.account_settings`.
#[allow(missing_docs)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ec2AccountSettings {
    pub ebs_encryption_by_default: bool,
}

/// `aws.s3.bucket`.
#[allow(missing_docs)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bucket {
    pub name: String,
    pub arn: String,
    pub creation_date: Option<DateTime<Utc>>,
    pub acl: Acl,
    pub policy: Option<Value>,
    pub policy_is_public: bool,
    pub public_access_block: Option<PublicAccessBlock>,
    pub encryption: Option<Encryption>,
    pub versioning: Versioning,
    pub logging: Option<Logging>,
    pub object_ownership: String,
    pub website: Option<Website>,
}

/// A bucket ACL.
#[allow(missing_docs)]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Acl {
    pub owner_id: Option<String>,
    pub grants: Vec<Grant>,
}

/// One ACL grant.
#[allow(missing_docs)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    pub grantee: Grantee,
    pub permission: Option<String>,
}

/// Who a grant is for.
#[allow(missing_docs)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grantee {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub uri: Option<String>,
    pub id: Option<String>,
    pub display_name: Option<String>,
    pub email: Option<String>,
}

/// A public access block (bucket or account).
#[allow(missing_docs)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicAccessBlock {
    pub block_public_acls: bool,
    pub ignore_public_acls: bool,
    pub block_public_policy: bool,
    pub restrict_public_buckets: bool,
}

/// Default bucket encryption.
#[allow(missing_docs)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Encryption {
    pub rules: Vec<EncryptionRule>,
}

/// One default encryption rule.
#[allow(missing_docs)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EncryptionRule {
    pub sse_algorithm: Option<String>,
    pub kms_master_key_id: Option<String>,
    pub bucket_key_enabled: bool,
}

/// Bucket versioning.
#[allow(missing_docs)]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Versioning {
    pub status: Option<String>,
    pub mfa_delete: Option<String>,
}

/// Server access logging.
#[allow(missing_docs)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Logging {
    pub target_bucket: Option<String>,
    pub target_prefix: Option<String>,
}

/// Static website hosting.
#[allow(missing_docs)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Website {
    pub index_document: Option<String>,
    pub error_document: Option<String>,
    pub redirect_all_requests_to: Option<String>,
}

/// `aws.s3.account_settings`.
#[allow(missing_docs)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3AccountSettings {
    pub public_access_block: Option<PublicAccessBlock>,
}

/// `aws.iam.user`.
#[allow(missing_docs)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    pub user_name: String,
    pub user_id: Option<String>,
    pub arn: Option<String>,
    pub path: Option<String>,
    pub create_date: Option<DateTime<Utc>>,
    pub password_enabled: bool,
    pub password_last_used: Option<DateTime<Utc>>,
    pub password_last_changed: Option<DateTime<Utc>>,
    pub mfa_active: bool,
    pub mfa_devices: Vec<MfaDevice>,
    pub access_keys: Vec<AccessKey>,
    pub groups: Vec<String>,
    pub attached_policies: Vec<AttachedPolicy>,
    pub inline_policies: Vec<InlinePolicy>,
    pub permissions_boundary_arn: Option<String>,
}

/// A virtual MFA device.
#[allow(missing_docs)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MfaDevice {
    pub serial_number: String,
    pub enable_date: Option<DateTime<Utc>>,
}

/// An access key.
#[allow(missing_docs)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessKey {
    pub access_key_id: String,
    pub status: Option<String>,
    pub created: Option<DateTime<Utc>>,
    pub last_used: Option<DateTime<Utc>>,
    pub last_used_service: Option<String>,
    pub last_used_region: Option<String>,
}

/// A managed policy attachment.
#[allow(missing_docs)]
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttachedPolicy {
    pub policy_name: Option<String>,
    pub policy_arn: Option<String>,
}

/// An inline policy.
#[allow(missing_docs)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InlinePolicy {
    pub policy_name: Option<String>,
    pub document: Option<Value>,
}

/// `aws.iam.group`.
#[allow(missing_docs)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Group {
    pub group_name: String,
    pub group_id: Option<String>,
    pub arn: Option<String>,
    pub path: Option<String>,
    pub create_date: Option<DateTime<Utc>>,
    pub users: Vec<String>,
    pub attached_policies: Vec<AttachedPolicy>,
    pub inline_policies: Vec<InlinePolicy>,
}

/// `aws.iam.role`.
#[allow(missing_docs)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Role {
    pub role_name: String,
    pub role_id: Option<String>,
    pub arn: Option<String>,
    pub path: Option<String>,
    pub create_date: Option<DateTime<Utc>>,
    pub assume_role_policy: Option<Value>,
    pub attached_policies: Vec<AttachedPolicy>,
    pub inline_policies: Vec<InlinePolicy>,
    pub instance_profile_arns: Vec<String>,
    pub last_used: Option<DateTime<Utc>>,
    pub last_used_region: Option<String>,
    pub permissions_boundary_arn: Option<String>,
}

/// `aws.iam.policy`.
#[allow(missing_docs)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManagedPolicy {
    pub policy_name: Option<String>,
    pub policy_id: Option<String>,
    pub arn: String,
    pub path: Option<String>,
    pub default_version_id: Option<String>,
    pub attachment_count: Option<i32>,
    pub is_attachable: bool,
    pub create_date: Option<DateTime<Utc>>,
    pub update_date: Option<DateTime<Utc>>,
    pub document: Option<Value>,
}

/// `aws.iam.password_policy`.
#[allow(missing_docs)]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordPolicy {
    pub present: bool,
    pub minimum_password_length: Option<i32>,
    pub require_symbols: Option<bool>,
    pub require_numbers: Option<bool>,
    pub require_uppercase_characters: Option<bool>,
    pub require_lowercase_characters: Option<bool>,
    pub allow_users_to_change_password: Option<bool>,
    pub expire_passwords: Option<bool>,
    pub max_password_age: Option<i32>,
    pub password_reuse_prevention: Option<i32>,
    pub hard_expiry: Option<bool>,
}

/// `aws.iam.account_summary`.
#[allow(missing_docs)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountSummary {
    pub root_mfa_enabled: bool,
    pub root_access_keys_present: bool,
    pub root_hardware_mfa: bool,
    pub summary: std::collections::BTreeMap<String, i64>,
}

/// Normalises an IAM / S3 policy document (see the conventions in
/// [`crate::docs::shapes`]): `Statement` becomes a list, `Action`,
/// `NotAction`, `Resource`, `NotResource` lists, principals maps of lists
/// with `"*"` as `{"AWS": ["*"]}`. Anything else is kept as written.
#[must_use]
pub fn normalize_policy(doc: Value) -> Value {
    let Value::Object(mut map) = doc else { return doc };
    if let Some(st) = map.remove("Statement") {
        let list = match st {
            Value::Array(items) => items,
            other => vec![other],
        };
        map.insert("Statement".into(), Value::Array(list.into_iter().map(normalize_statement).collect()));
    }
    Value::Object(map)
}

fn normalize_statement(st: Value) -> Value {
    let Value::Object(mut map) = st else { return st };
    for key in ["Action", "NotAction", "Resource", "NotResource"] {
        if let Some(v) = map.remove(key) {
            map.insert(key.into(), as_list(v));
        }
    }
    for key in ["Principal", "NotPrincipal"] {
        if let Some(v) = map.remove(key) {
            map.insert(key.into(), normalize_principal(v));
        }
    }
    Value::Object(map)
}

fn as_list(v: Value) -> Value {
    match v {
        Value::Array(_) => v,
        other => Value::Array(vec![other]),
    }
}

fn normalize_principal(p: Value) -> Value {
    match p {
        Value::String(s) if s == "*" => {
            let mut m = Map::new();
            m.insert("AWS".into(), Value::Array(vec![Value::String(s)]));
            Value::Object(m)
        }
        Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (k, as_list(v))).collect()),
        other => other,
    }
}

/// Parses a policy document as IAM returns it (URL-encoded JSON) or as S3
/// returns it (plain JSON), normalised. `None` when it is not JSON.
#[must_use]
pub fn parse_policy(text: &str) -> Option<Value> {
    let parsed = serde_json::from_str::<Value>(text)
        .ok()
        .or_else(|| percent_decode(text).and_then(|t| serde_json::from_str::<Value>(&t).ok()))?;
    Some(normalize_policy(parsed))
}

/// Decodes `%XX` escapes (and `+` as a space, as IAM encodes documents).
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = text.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// A `CamelCase` AWS name in `snake_case`, acronyms kept together
/// (`AccountMFAEnabled` → `account_mfa_enabled`).
#[must_use]
pub fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() {
            let prev_lower = i > 0 && (chars[i - 1].is_ascii_lowercase() || chars[i - 1].is_ascii_digit());
            let next_lower = chars.get(i + 1).is_some_and(char::is_ascii_lowercase);
            let prev_upper = i > 0 && chars[i - 1].is_ascii_uppercase();
            if i > 0 && (prev_lower || (prev_upper && next_lower)) {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::de::DeserializeOwned;

    fn examples() -> Vec<pacbot_core::shape_doc::ShapeExample> {
        pacbot_core::shape_doc::examples(include_str!("shapes.md")).unwrap()
    }

    fn round_trip<T: Serialize + DeserializeOwned>(example: &pacbot_core::shape_doc::ShapeExample) {
        pacbot_core::shape_doc::check_round_trip::<T>(example).unwrap();
    }

    #[test]
    fn every_kind_has_a_documented_example_matching_its_type() {
        let examples = examples();
        let kinds: Vec<&str> = examples.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(kinds, kind::ALL.to_vec());
        for e in &examples {
            match e.kind.as_str() {
                kind::INSTANCE => round_trip::<Instance>(e),
                kind::SECURITY_GROUP => round_trip::<SecurityGroup>(e),
                kind::VOLUME => round_trip::<Volume>(e),
                kind::SNAPSHOT => round_trip::<Snapshot>(e),
                kind::VPC => round_trip::<Vpc>(e),
                kind::SUBNET => round_trip::<Subnet>(e),
                kind::ROUTE_TABLE => round_trip::<RouteTable>(e),
                kind::ADDRESS => round_trip::<Address>(e),
                kind::EC2_ACCOUNT_SETTINGS => round_trip::<Ec2AccountSettings>(e),
                kind::BUCKET => round_trip::<Bucket>(e),
                kind::S3_ACCOUNT_SETTINGS => round_trip::<S3AccountSettings>(e),
                kind::USER => round_trip::<User>(e),
                kind::GROUP => round_trip::<Group>(e),
                kind::ROLE => round_trip::<Role>(e),
                kind::POLICY => round_trip::<ManagedPolicy>(e),
                kind::PASSWORD_POLICY => round_trip::<PasswordPolicy>(e),
                kind::ACCOUNT_SUMMARY => round_trip::<AccountSummary>(e),
                other => panic!("no type for `{other}`"),
            }
        }
    }

    #[test]
    fn policies_are_normalised() {
        let doc = parse_policy(
            r#"{"Statement": {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"}}"#,
        )
        .unwrap();
        assert_eq!(
            doc,
            serde_json::json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": ["*"]},
                "Action": ["s3:GetObject"], "Resource": ["*"]}]})
        );
        let encoded = "%7B%22Statement%22%3A%5B%7B%22Effect%22%3A%22Deny%22%2C%22NotAction%22%3A%22iam%3A*%22%2C\
                       %22Principal%22%3A%7B%22Service%22%3A%22ec2.amazonaws.com%22%7D%7D%5D%7D";
        assert_eq!(
            parse_policy(encoded).unwrap(),
            serde_json::json!({"Statement": [{"Effect": "Deny", "NotAction": ["iam:*"],
                "Principal": {"Service": ["ec2.amazonaws.com"]}}]})
        );
        assert!(parse_policy("%ZZ").is_none());
    }

    #[test]
    fn aws_names_become_snake_case() {
        assert_eq!(snake_case("AccountMFAEnabled"), "account_mfa_enabled");
        assert_eq!(snake_case("MFADevicesInUse"), "mfa_devices_in_use");
        assert_eq!(snake_case("Users"), "users");
        assert_eq!(snake_case("AccessKeysPerUserQuota"), "access_keys_per_user_quota");
        assert_eq!(snake_case("GlobalEndpointTokenVersion"), "global_endpoint_token_version");
    }
}
