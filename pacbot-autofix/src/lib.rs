#![doc = include_str!("../README.md")]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

#[cfg(feature = "aws")]
pub mod aws;
pub mod bots;
mod error;
mod executor;
mod fix;
mod iam;
pub mod notify;
mod params;
pub mod planner;

pub use bots::{AccountMode, BotResult, BotStatus, Dispatcher, FindingEvent};
pub use error::{Error, Result};
pub use executor::{Executor, FixRun, Mode, RunStatus};
pub use fix::{ApplyOutcome, Catalogue, Change, Fix, FixExt, FixInfo, FixPlan, FixTarget};
pub use iam::least_privilege_policy;
pub use notify::{MemoryNotifier, Message, MessageKind, Notifier};
pub use params::{Arg, AutoLine, ParamKind, ParamSpec, ParamValue, Params};
pub use planner::{Decision, PlanDecision, Planner, PlannerConfig, PlannerReport, PolicyFix, PreparedFix};
