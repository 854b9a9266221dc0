//! `flowgen sandbox`: serves the emulated Chargebee, PowerOffice Go, WebCRM and generic
//! REST APIs on loopback (see `flowgen_sandbox`) until Ctrl-C, for trying `flowgen sync`
//! against something that answers like the real APIs.

use std::fmt::Write as _;
use std::io::Write as _;

use clap::Args;
use flowgen_sandbox::{Faults, RateLimits, Sandbox, SandboxConfig};
use serde_json::json;

use super::demo::{CREDENTIAL_VARIABLES, sandbox_credential, sandbox_systems};
use super::{EXIT_FINDINGS, EXIT_OK, EXIT_USAGE};
use crate::flow::Registry;

#[derive(Debug, Args)]
pub struct SandboxArgs {
    /// Records per entity in the seeded dataset.
    #[arg(long, default_value_t = 50, value_name = "N")]
    pub records: usize,
    /// Seed of the dataset and of the fault sequence.
    #[arg(long, default_value_t = 1, value_name = "S")]
    pub seed: u64,
    /// First port: the APIs listen on P..P+3 (default: ephemeral ports).
    #[arg(long, default_value_t = 0, value_name = "P")]
    pub port: u16,
    /// Faults to inject, e.g. `latency=20ms,5xx=10%,429=5%,retry_after=1,malformed=1%,drop=0.1%`.
    #[arg(long, value_name = "SPEC")]
    pub faults: Option<String>,
    /// Count requests per window but never answer 429 for exceeding the APIs' limits.
    #[arg(long)]
    pub no_rate_limits: bool,
    /// Also print `export` lines with the sandbox's credentials (well-known values that
    /// open nothing but the sandbox; left out by default so that logs of the command stay
    /// free of anything that looks like a secret).
    #[arg(long)]
    pub show_credentials: bool,
}

/// The sandbox configuration the arguments describe, or a usage error.
pub fn sandbox_config(args: &SandboxArgs) -> Result<SandboxConfig, String> {
    let faults = match args.faults.as_deref() {
        None => Faults::none(),
        Some(spec) => spec
            .parse::<Faults>()
            .map_err(|e| format!("--faults: {e}"))?,
    };
    let config = SandboxConfig {
        records: args.records,
        seed: args.seed,
        port: args.port,
        faults,
        rate_limits: RateLimits {
            enforce: !args.no_rate_limits,
            ..RateLimits::default()
        },
        ..SandboxConfig::default()
    };
    config.validate().map_err(|e| e.to_string())?;
    Ok(config)
}

/// The text printed once the sandbox listens: where the APIs are, which environment
/// variables name the credentials, and a `flowgen.yaml` for `flowgen sync` against it.
pub fn banner(sandbox: &Sandbox, args: &SandboxArgs, registry: Option<&Registry>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", sandbox.describe());
    let _ = writeln!(
        out,
        "rate limits: {}; {} records per entity, seed {}; Ctrl-C stops",
        if args.no_rate_limits {
            "counted, not enforced"
        } else {
            "the real APIs' limits, enforced"
        },
        args.records,
        args.seed
    );
    let _ = writeln!(
        out,
        "credentials: the environment variables {}",
        CREDENTIAL_VARIABLES.join(", ")
    );
    if args.show_credentials {
        let credentials = &sandbox.config().credentials;
        for variable in CREDENTIAL_VARIABLES {
            if let Some(value) = sandbox_credential(credentials, variable) {
                let _ = writeln!(out, "export {variable}={value}");
            }
        }
    } else {
        let _ = writeln!(out, "  (their sandbox values: run with --show-credentials)");
    }
    if let Some(registry) = registry {
        let systems = sandbox_systems(sandbox, registry, None);
        if let Ok(yaml) =
            serde_yaml::to_string(&json!({ "state": "flowgen.db", "systems": systems }))
        {
            let _ = writeln!(
                out,
                "flowgen.yaml for `flowgen sync` against this sandbox:\n{yaml}"
            );
        }
    }
    out
}

/// `flowgen sandbox`; with the documents' flows the banner includes a `flowgen.yaml`.
pub fn sandbox(args: SandboxArgs, registry: Option<fn() -> Registry>) -> u8 {
    let config = match sandbox_config(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return EXIT_FINDINGS;
        }
    };
    rt.block_on(async {
        let sandbox = match flowgen_sandbox::start(config).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: {e}");
                return EXIT_FINDINGS;
            }
        };
        let registry = registry.map(|r| r());
        print!("{}", banner(&sandbox, &args, registry.as_ref()));
        let _ = std::io::stdout().flush();
        let _ = tokio::signal::ctrl_c().await;
        sandbox.shutdown().await;
        EXIT_OK
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(faults: Option<&str>, records: usize) -> SandboxArgs {
        SandboxArgs {
            records,
            seed: 7,
            port: 0,
            faults: faults.map(str::to_string),
            no_rate_limits: true,
            show_credentials: false,
        }
    }

    #[test]
    fn arguments_make_the_config() {
        let c = sandbox_config(&args(Some("latency=20ms,5xx=10%"), 12)).expect("config");
        assert_eq!((c.records, c.seed), (12, 7));
        assert!(!c.rate_limits.enforce);
        assert!(!c.faults.is_none());
    }

    #[tokio::test]
    async fn the_banner_names_variables_but_shows_no_credentials_unless_asked() {
        let mut a = args(None, 3);
        let sandbox = flowgen_sandbox::start(sandbox_config(&a).expect("config"))
            .await
            .expect("sandbox");
        let secret = sandbox.config().credentials.chargebee_api_key.clone();
        let text = banner(&sandbox, &a, None);
        assert!(text.contains("CHARGEBEE_API_KEY"), "{text}");
        assert!(text.contains("/api/v2"), "{text}");
        assert!(!text.contains(&secret), "{text}");
        a.show_credentials = true;
        let shown = banner(&sandbox, &a, None);
        assert!(shown.contains(&format!("export CHARGEBEE_API_KEY={secret}")));
        sandbox.shutdown().await;
    }

    #[test]
    fn bad_faults_name_the_flag() {
        let e = sandbox_config(&args(Some("5xx=lots"), 12)).expect_err("faults");
        assert!(e.contains("--faults"), "{e}");
    }
}
