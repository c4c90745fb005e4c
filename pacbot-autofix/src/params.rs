//! `AUTO:` lines and typed fix parameters.
//!
//! A finding's compliance tags carry lines such as
//!
//! ```text
//! AUTO: sg_single_rule_delete split=true 22 tcp 0.0.0.0/0
//! AUTO: iam_attach_policy policy_arn=arn:aws:iam::aws:policy/ReadOnlyAccess
//! ```
//!
//! [`AutoLine::parse`] splits one into the bot name and its arguments
//! (positional, or `key=value`); [`Params::parse`] checks them against the
//! bot's [`ParamSpec`]s — positionals fill the declared parameters in order,
//! named ones by name — and converts each to its declared type. Every
//! mistake is an error naming the line or the parameter; nothing panics.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};

/// One argument of an `AUTO:` line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Arg {
    /// A bare value, matched to the parameters in their declared order.
    Positional(String),
    /// `key=value`.
    Named(String, String),
}

/// One parsed `AUTO: bot_name args…` line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutoLine {
    /// The bot (fix) key, as written.
    pub bot: String,
    /// Its arguments, in order.
    pub args: Vec<Arg>,
}

impl AutoLine {
    /// Parses one line: `AUTO:` (any case, leading blanks allowed), the bot
    /// name (letters, digits, `_`, `-`), then arguments separated by blanks.
    pub fn parse(line: &str) -> Result<AutoLine> {
        let invalid = |reason: &str| Error::InvalidAutoLine { line: line.to_owned(), reason: reason.to_owned() };
        let trimmed = line.trim();
        let rest = strip_auto(trimmed).ok_or_else(|| invalid("it does not start with `AUTO:`"))?;
        let mut words = rest.split_whitespace();
        let bot = words.next().ok_or_else(|| invalid("no bot name after `AUTO:`"))?;
        if !bot.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            return Err(invalid(&format!("`{bot}` is not a bot name (letters, digits, `_` and `-`)")));
        }
        let mut args = Vec::new();
        for word in words {
            match word.split_once('=') {
                Some(("", _)) => return Err(invalid(&format!("`{word}` has no name before `=`"))),
                Some((k, v)) => args.push(Arg::Named(k.to_owned(), v.to_owned())),
                None => args.push(Arg::Positional(word.to_owned())),
            }
        }
        Ok(AutoLine { bot: bot.to_owned(), args })
    }

    /// The `AUTO:` lines in a compliance-tag text: lines or `|`-separated
    /// parts that start with `AUTO:`; other tags are ignored. Each is parsed
    /// on its own, so one bad line does not hide the others.
    pub fn find_all(text: &str) -> Vec<Result<AutoLine>> {
        text.split(['\n', '|']).map(str::trim).filter(|part| strip_auto(part).is_some()).map(AutoLine::parse).collect()
    }
}

impl fmt::Display for AutoLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AUTO: {}", self.bot)?;
        for a in &self.args {
            match a {
                Arg::Positional(v) => write!(f, " {v}")?,
                Arg::Named(k, v) => write!(f, " {k}={v}")?,
            }
        }
        Ok(())
    }
}

fn strip_auto(text: &str) -> Option<&str> {
    let head = text.get(..5)?;
    head.eq_ignore_ascii_case("auto:").then(|| &text[5..])
}

/// The type of a parameter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParamKind {
    /// Any non-empty text.
    Text,
    /// A whole number within bounds (inclusive).
    Integer {
        /// The least value.
        min: i64,
        /// The greatest value.
        max: i64,
    },
    /// `true`/`false` (also `yes`/`no`, `1`/`0`).
    Bool,
    /// A port, 0 to 65535.
    Port,
    /// An IPv4 or IPv6 CIDR block (`0.0.0.0/0`, `::/0`).
    Cidr,
    /// An ARN (`arn:partition:service:…`).
    Arn,
    /// One of the listed words.
    OneOf(&'static [&'static str]),
    /// A comma-separated list of non-empty words.
    List,
}

impl fmt::Display for ParamKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamKind::Text => f.write_str("text"),
            ParamKind::Integer { min, max } => write!(f, "a whole number from {min} to {max}"),
            ParamKind::Bool => f.write_str("true or false"),
            ParamKind::Port => f.write_str("a port (0 to 65535)"),
            ParamKind::Cidr => f.write_str("a CIDR block"),
            ParamKind::Arn => f.write_str("an ARN"),
            ParamKind::OneOf(words) => write!(f, "one of {}", words.join(", ")),
            ParamKind::List => f.write_str("a comma-separated list"),
        }
    }
}

/// A parameter a fix takes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamSpec {
    /// The name (`key=` in an `AUTO:` line).
    pub name: &'static str,
    /// Its type.
    pub kind: ParamKind,
    /// Whether it must be given (when there is no default).
    pub required: bool,
    /// The value used when it is not given.
    pub default: Option<&'static str>,
    /// What it means.
    pub help: &'static str,
}

impl ParamSpec {
    /// A required parameter.
    #[must_use]
    pub const fn required(name: &'static str, kind: ParamKind, help: &'static str) -> Self {
        Self { name, kind, required: true, default: None, help }
    }

    /// An optional parameter without a default.
    #[must_use]
    pub const fn optional(name: &'static str, kind: ParamKind, help: &'static str) -> Self {
        Self { name, kind, required: false, default: None, help }
    }

    /// An optional parameter with a default.
    #[must_use]
    pub const fn with_default(name: &'static str, kind: ParamKind, default: &'static str, help: &'static str) -> Self {
        Self { name, kind, required: false, default: Some(default), help }
    }

    fn convert(&self, raw: &str) -> std::result::Result<ParamValue, String> {
        let bad = || format!("`{raw}` is not {}", self.kind);
        if raw.is_empty() {
            return Err("the value is empty".to_owned());
        }
        Ok(match &self.kind {
            ParamKind::Text => ParamValue::Text(raw.to_owned()),
            ParamKind::Integer { min, max } => {
                let n: i64 = raw.parse().map_err(|_| bad())?;
                if n < *min || n > *max {
                    return Err(bad());
                }
                ParamValue::Int(n)
            }
            ParamKind::Bool => match raw.to_ascii_lowercase().as_str() {
                "true" | "yes" | "1" => ParamValue::Bool(true),
                "false" | "no" | "0" => ParamValue::Bool(false),
                _ => return Err(bad()),
            },
            ParamKind::Port => ParamValue::Int(i64::from(raw.parse::<u16>().map_err(|_| bad())?)),
            ParamKind::Cidr => {
                let (ip, prefix) = raw.split_once('/').ok_or_else(bad)?;
                let ip: std::net::IpAddr = ip.parse().map_err(|_| bad())?;
                let prefix: u8 = prefix.parse().map_err(|_| bad())?;
                if prefix > if ip.is_ipv4() { 32 } else { 128 } {
                    return Err(bad());
                }
                ParamValue::Text(raw.to_owned())
            }
            ParamKind::Arn => {
                let parts: Vec<&str> = raw.splitn(6, ':').collect();
                if parts.len() < 6 || parts[0] != "arn" || parts[1].is_empty() || parts[2].is_empty() {
                    return Err(bad());
                }
                ParamValue::Text(raw.to_owned())
            }
            ParamKind::OneOf(words) => {
                let w = words.iter().find(|w| w.eq_ignore_ascii_case(raw)).ok_or_else(bad)?;
                ParamValue::Text((*w).to_owned())
            }
            ParamKind::List => {
                let items: Vec<String> = raw.split(',').map(|s| s.trim().to_owned()).collect();
                if items.iter().any(String::is_empty) {
                    return Err(bad());
                }
                ParamValue::List(items)
            }
        })
    }
}

/// A converted parameter value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ParamValue {
    /// Text, CIDR, ARN, or one of a set of words.
    Text(String),
    /// A number or port.
    Int(i64),
    /// A flag.
    Bool(bool),
    /// A list.
    List(Vec<String>),
}

/// Parameters checked against a fix's specs: every declared parameter that
/// was given or has a default.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Params(BTreeMap<String, ParamValue>);

impl Params {
    /// No parameters.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Checks and converts arguments for the fix `fix` with these specs.
    pub fn parse(fix: &str, specs: &[ParamSpec], args: &[Arg]) -> Result<Params> {
        let invalid =
            |param: &str, reason: String| Error::InvalidParam { fix: fix.to_owned(), param: param.to_owned(), reason };
        let mut raw: BTreeMap<&'static str, &str> = BTreeMap::new();
        let mut next = 0;
        for arg in args {
            let (spec, value) = match arg {
                Arg::Positional(v) => {
                    // The next declared parameter not given by name.
                    while specs.get(next).is_some_and(|s| raw.contains_key(s.name)) {
                        next += 1;
                    }
                    let spec = specs.get(next).ok_or_else(|| {
                        invalid(v, format!("too many values: `{fix}` takes {} parameter(s)", specs.len()))
                    })?;
                    next += 1;
                    (spec, v)
                }
                Arg::Named(k, v) => {
                    let spec = specs.iter().find(|s| s.name == k).ok_or_else(|| {
                        let known: Vec<&str> = specs.iter().map(|s| s.name).collect();
                        let known = if known.is_empty() { "none".to_owned() } else { known.join(", ") };
                        invalid(k, format!("unknown parameter (known: {known})"))
                    })?;
                    (spec, v)
                }
            };
            if raw.insert(spec.name, value.as_str()).is_some() {
                return Err(invalid(spec.name, "given twice".to_owned()));
            }
        }
        let mut out = BTreeMap::new();
        for spec in specs {
            let value = match (raw.get(spec.name), spec.default) {
                (Some(v), _) => *v,
                (None, Some(d)) => d,
                (None, None) if spec.required => {
                    return Err(invalid(spec.name, format!("missing (expected {})", spec.kind)));
                }
                (None, None) => continue,
            };
            let converted = spec.convert(value).map_err(|reason| invalid(spec.name, reason))?;
            out.insert(spec.name.to_owned(), converted);
        }
        Ok(Params(out))
    }

    /// Checks named values from a configuration (`{"policy_arn": "…"}`;
    /// numbers and booleans are accepted as well as strings).
    pub fn from_config(fix: &str, specs: &[ParamSpec], values: &BTreeMap<String, Value>) -> Result<Params> {
        let args: Vec<Arg> = values
            .iter()
            .map(|(k, v)| Arg::Named(k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_owned)))
            .collect();
        Params::parse(fix, specs, &args)
    }

    /// A text value (text, CIDR, ARN, one-of).
    #[must_use]
    pub fn text(&self, name: &str) -> Option<&str> {
        match self.0.get(name) {
            Some(ParamValue::Text(s)) => Some(s),
            _ => None,
        }
    }

    /// A number or port.
    #[must_use]
    pub fn int(&self, name: &str) -> Option<i64> {
        match self.0.get(name) {
            Some(ParamValue::Int(n)) => Some(*n),
            _ => None,
        }
    }

    /// A flag.
    #[must_use]
    pub fn flag(&self, name: &str) -> Option<bool> {
        match self.0.get(name) {
            Some(ParamValue::Bool(b)) => Some(*b),
            _ => None,
        }
    }

    /// A list.
    #[must_use]
    pub fn list(&self, name: &str) -> Option<&[String]> {
        match self.0.get(name) {
            Some(ParamValue::List(l)) => Some(l),
            _ => None,
        }
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// As JSON.
    #[must_use]
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPECS: &[ParamSpec] = &[
        ParamSpec::required("port", ParamKind::Port, "the port"),
        ParamSpec::with_default("protocol", ParamKind::OneOf(&["tcp", "udp", "icmp", "-1"]), "tcp", "the protocol"),
        ParamSpec::optional("scope", ParamKind::Cidr, "the source"),
        ParamSpec::with_default("split", ParamKind::Bool, "true", "split ranges"),
    ];

    #[test]
    fn lines_parse_into_bot_and_arguments() {
        let line = AutoLine::parse("  auto: sg_single_rule_delete 22 protocol=udp").unwrap();
        assert_eq!(line.bot, "sg_single_rule_delete");
        assert_eq!(line.args, vec![Arg::Positional("22".into()), Arg::Named("protocol".into(), "udp".into())]);
        assert_eq!(line.to_string(), "AUTO: sg_single_rule_delete 22 protocol=udp");
        for (bad, says) in [
            ("ec2_stop", "does not start with `AUTO:`"),
            ("AUTO:   ", "no bot name"),
            ("AUTO: bad/name", "not a bot name"),
            ("AUTO: x =1", "no name before `=`"),
            ("", "does not start"),
            ("é", "does not start"),
        ] {
            let e = AutoLine::parse(bad).unwrap_err().to_string();
            assert!(e.contains(says), "{bad}: {e}");
        }
        let all = AutoLine::find_all("CIS|AUTO: a 1|AUTO: b/c\nAUTO: d k=v|other");
        assert_eq!(all.len(), 3);
        assert!(all[0].is_ok() && all[1].is_err() && all[2].is_ok());
    }

    #[test]
    fn params_convert_by_position_and_name() {
        let line = AutoLine::parse("AUTO: x scope=0.0.0.0/0 22 udp").unwrap();
        let p = Params::parse("x", SPECS, &line.args).unwrap();
        assert_eq!(p.int("port"), Some(22));
        assert_eq!(p.text("protocol"), Some("udp"));
        assert_eq!(p.text("scope"), Some("0.0.0.0/0"));
        assert_eq!(p.flag("split"), Some(true));
        assert_eq!(
            p.to_json(),
            serde_json::json!({"port": 22, "protocol": "udp", "scope": "0.0.0.0/0", "split": true})
        );
    }

    #[test]
    fn bad_params_name_the_parameter() {
        let cases = [
            ("AUTO: x", "parameter `port`: missing"),
            ("AUTO: x 70000", "parameter `port`: `70000` is not a port"),
            ("AUTO: x 22 sctp", "`sctp` is not one of tcp, udp, icmp, -1"),
            ("AUTO: x 22 tcp 10.0.0.0/33", "not a CIDR block"),
            ("AUTO: x 22 tcp ::/0 maybe", "`maybe` is not true or false"),
            ("AUTO: x 22 tcp ::/0 true extra", "too many values"),
            ("AUTO: x port=1 port=2", "given twice"),
            ("AUTO: x colour=red", "unknown parameter (known: port, protocol, scope, split)"),
            ("AUTO: x port=", "the value is empty"),
        ];
        for (line, says) in cases {
            let l = AutoLine::parse(line).unwrap();
            let e = Params::parse("x", SPECS, &l.args).unwrap_err().to_string();
            assert!(e.contains(says), "{line}: {e}");
            assert!(e.starts_with("fix `x`"), "{e}");
        }
        let arn = [ParamSpec::required("policy_arn", ParamKind::Arn, "")];
        assert!(Params::parse("y", &arn, &[Arg::Positional("arn:aws:iam::aws:policy/X".into())]).is_ok());
        assert!(Params::parse("y", &arn, &[Arg::Positional("policy/X".into())]).is_err());
    }
}
