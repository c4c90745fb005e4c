//! Policy packs: the built-in ones every provider registers here, and the
//! directories of declarative YAML policies a configuration names.
//!
//! A provider crate's pack registers as one [`Pack`] in [`registry`]: a name,
//! the provider, whether `builtin` selects it, and how to load its policies
//! (declarative YAML shipped in the binary, or a function returning
//! policies in code, configured from the scanner's configuration). The
//! provider packs (`aws` from pacbot-aws, `azure` from pacbot-azure) are in
//! every build: the facade always has the provider crates without their
//! connectors (`pacbot::aws::pack`, `pacbot::azure::pack`), so the defaults
//! need no cloud SDK. With the `tagging` pack they are what `builtin`
//! selects.

use std::collections::BTreeMap;

use pacbot::Policy;

use super::config::{Config, Loaded, Origin, Problem};

/// How a pack's policies are loaded.
#[derive(Clone, Copy)]
enum Loader {
    /// A declarative YAML document built into the binary: (file name, text).
    Yaml(&'static str, &'static str),
    /// Policies in code, configured from the scanner's configuration.
    Code(fn(&Config) -> Result<Vec<Policy>, pacbot::Error>),
}

/// A built-in policy pack.
#[derive(Clone, Copy)]
pub struct Pack {
    /// The name configurations select it by.
    pub name: &'static str,
    /// The provider whose assets it judges (`any` for several).
    pub provider: &'static str,
    /// One line about it.
    pub description: &'static str,
    /// Whether `builtin` selects it.
    pub default: bool,
    loader: Loader,
}

impl Pack {
    /// A pack of declarative YAML policies.
    pub const fn yaml(
        name: &'static str,
        provider: &'static str,
        description: &'static str,
        default: bool,
        file: &'static str,
        text: &'static str,
    ) -> Self {
        Self { name, provider, description, default, loader: Loader::Yaml(file, text) }
    }

    /// A pack of policies in code.
    pub const fn code(
        name: &'static str,
        provider: &'static str,
        description: &'static str,
        default: bool,
        load: fn(&Config) -> Result<Vec<Policy>, pacbot::Error>,
    ) -> Self {
        Self { name, provider, description, default, loader: Loader::Code(load) }
    }

    /// The pack's policies, configured from `config`.
    pub fn policies(&self, config: &Config) -> Result<Vec<Policy>, pacbot::Error> {
        match self.loader {
            Loader::Yaml(file, text) => pacbot::parse_policies(file, text),
            Loader::Code(load) => load(config),
        }
    }
}

/// Every built-in pack.
pub fn registry() -> Vec<Pack> {
    vec![
        Pack::code(
            "aws",
            "aws",
            "pacbot-aws: S3, security groups, EC2, EBS, IAM, account settings, tagging (CIS AWS Foundations)",
            true,
            aws_pack,
        ),
        Pack::code(
            "azure",
            "azure",
            "pacbot-azure: storage, network security groups, VMs, disks, SQL, Key Vault, tagging (CIS Azure)",
            true,
            azure_pack,
        ),
        Pack::yaml(
            "tagging",
            "any",
            "Owner and cost-center tags on the resources that carry them",
            true,
            "examples/scanner/packs/tagging.yaml",
            include_str!("packs/tagging.yaml"),
        ),
    ]
}

/// pacbot-aws's pack: the configuration's mandatory tags (the pack's own
/// defaults when it names none).
fn aws_pack(config: &Config) -> Result<Vec<Policy>, pacbot::Error> {
    use pacbot::aws::pack::{PackConfig, policies};
    let mut pack = PackConfig::default();
    if !config.compliance.mandatory_tags.is_empty() {
        pack.mandatory_tags = config.compliance.mandatory_tags.clone();
    }
    Ok(policies(&pack))
}

/// pacbot-azure's pack: the configuration's mandatory tags (the pack's own
/// defaults when it names none).
fn azure_pack(config: &Config) -> Result<Vec<Policy>, pacbot::Error> {
    use pacbot::azure::pack::{PackConfig, policies};
    let mut pack = PackConfig::default();
    if !config.compliance.mandatory_tags.is_empty() {
        pack = pack.with_mandatory_tags(config.compliance.mandatory_tags.iter().cloned());
    }
    policies(&pack)
}

/// The policies a configuration selects, with where each came from.
#[derive(Debug, Default)]
pub struct PolicySet {
    /// Every policy (disabled ones marked so: kept in the catalogue, not evaluated).
    pub policies: Vec<Policy>,
    /// Policy id → the pack or file that defines it.
    pub origins: BTreeMap<String, String>,
}

/// Loads the packs, directories and disabled list of a configuration, plus
/// `extra_dirs`. Every problem is returned, each naming its file and path.
pub fn load(loaded: &Loaded, extra_dirs: &[std::path::PathBuf]) -> Result<PolicySet, Vec<Problem>> {
    let section = &loaded.config.policies;
    let config = loaded.name();
    let mut problems = Vec::new();
    let mut set = PolicySet::default();
    let add = |set: &mut PolicySet, policies: Vec<Policy>, origin: String, problems: &mut Vec<Problem>| {
        for p in policies {
            if let Some(first) = set.origins.get(p.id()) {
                problems.push(Problem::new(
                    &origin,
                    "policies",
                    format!("duplicate policy `{}` (first defined in {first})", p.id()),
                ));
                continue;
            }
            set.origins.insert(p.id().to_owned(), origin.clone());
            set.policies.push(p);
        }
    };

    let registry = registry();
    for (i, name) in section.packs.iter().enumerate() {
        let chosen: Vec<&Pack> = if name == "builtin" {
            registry.iter().filter(|p| p.default).collect()
        } else {
            registry.iter().filter(|p| p.name == name).collect()
        };
        if chosen.is_empty() {
            let known: Vec<&str> = registry.iter().map(|p| p.name).collect();
            problems.push(Problem::new(
                &config,
                format!("policies.packs[{i}]"),
                format!("no built-in pack `{name}` (known: builtin, {})", known.join(", ")),
            ));
        }
        for pack in chosen {
            if set.origins.values().any(|o| o == &format!("pack `{}`", pack.name)) {
                continue; // selected twice (`builtin` and by name)
            }
            match pack.policies(&loaded.config) {
                Ok(p) => add(&mut set, p, format!("pack `{}`", pack.name), &mut problems),
                Err(e) => problems.push(Problem::new(format!("pack `{}`", pack.name), "", e.to_string())),
            }
        }
    }

    for (i, dir) in section.dirs.iter().enumerate() {
        match &loaded.origin {
            Origin::Demo(_) => match super::demo::policy_dir(dir) {
                Some(files) => {
                    for (file, text) in files {
                        match pacbot::parse_policies(&file, text) {
                            Ok(p) => add(&mut set, p, file, &mut problems),
                            Err(e) => problems.push(core_problem(&file, e)),
                        }
                    }
                }
                None => problems.push(Problem::new(
                    &config,
                    format!("policies.dirs[{i}]"),
                    format!("the demo has no directory `{dir}`"),
                )),
            },
            _ => {
                let path = loaded.resolve(dir);
                match pacbot::load_policy_dir(&path) {
                    Ok(p) => add(&mut set, p, path.display().to_string(), &mut problems),
                    Err(e) => problems.push(core_problem(&path.display().to_string(), e)),
                }
            }
        }
    }
    for dir in extra_dirs {
        match pacbot::load_policy_dir(dir) {
            Ok(p) => add(&mut set, p, dir.display().to_string(), &mut problems),
            Err(e) => problems.push(core_problem(&dir.display().to_string(), e)),
        }
    }

    for (i, id) in section.disabled.iter().enumerate() {
        match set.policies.iter().position(|p| p.id() == id) {
            Some(k) => {
                let p = set.policies.remove(k).enabled(false);
                set.policies.insert(k, p);
            }
            // A policy of a built-in pack this configuration does not
            // select is no problem.
            None if registry.iter().any(|p| pack_defines(p, &loaded.config, id)) => {}
            None => problems.push(Problem::new(
                &config,
                format!("policies.disabled[{i}]"),
                format!("policy `{id}` not found"),
            )),
        }
    }
    if problems.is_empty() { Ok(set) } else { Err(problems) }
}

/// Whether a built-in pack defines the policy `id`.
fn pack_defines(pack: &Pack, config: &Config, id: &str) -> bool {
    pack.policies(config).is_ok_and(|ps| ps.iter().any(|p| p.id() == id))
}

/// A core error as a problem: its file, path and reason when it has them.
pub fn core_problem(file: &str, e: pacbot::Error) -> Problem {
    match e {
        pacbot::Error::InvalidPolicy { source_name, path, reason }
        | pacbot::Error::InvalidDocument { source_name, path, reason } => Problem::new(source_name, path, reason),
        pacbot::Error::InvalidCriteria { path, reason } => Problem::new(file, path, reason),
        other => Problem::new(file, "", other.to_string()),
    }
}
