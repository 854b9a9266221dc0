//! Secrets configured through flowgen.yaml (credentials named by environment variables)
//! appear nowhere: not in what any command prints at trace level — through faults, failing
//! and renewed authentication, a missing variable — nor in `Debug` of the configurations
//! and connectors, nor in the state file.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use flowgen_runtime::cli::config::Config;
use flowgen_runtime::connectors::config::ConnectorConfig;
use flowgen_sandbox::{Credentials, Faults};
use tokio::io::AsyncBufReadExt;

use crate::support::{Output, Setup, World, run_command};

/// Credentials no other test uses, so that a match can only be a leak.
fn credentials(tag: &str) -> Credentials {
    Credentials {
        chargebee_api_key: format!("cbkey_{tag}_Qm4vT9xL2pR7"),
        poweroffice_application_key: format!("poapp_{tag}_W8nK3sJ6dF1h"),
        poweroffice_client_key: format!("pocli_{tag}_Z5bY2cV7gN4m"),
        poweroffice_subscription_key: format!("posub_{tag}_H3jU8eR1tP6w"),
        webcrm_auth_code: format!("wcauth_{tag}_L9qA4zX7kB2s"),
        rest_token: format!("resttok_{tag}_E6rT1yU5iO8p"),
    }
}

/// Every form a credential could leak in: as given, and inside the Basic authorization
/// headers the connectors build from it.
fn secret_forms(c: &Credentials) -> Vec<String> {
    vec![
        c.chargebee_api_key.clone(),
        c.poweroffice_application_key.clone(),
        c.poweroffice_client_key.clone(),
        c.poweroffice_subscription_key.clone(),
        c.webcrm_auth_code.clone(),
        c.rest_token.clone(),
        BASE64.encode(format!("{}:", c.chargebee_api_key)),
        BASE64.encode(format!(
            "{}:{}",
            c.poweroffice_application_key, c.poweroffice_client_key
        )),
    ]
}

/// Access and refresh tokens the sandbox issues (`at_`/`rt_` and 40 letters or digits):
/// secrets too, though no configuration names them.
fn tokens_in(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for prefix in ["at_", "rt_"] {
        let mut rest = text;
        while let Some(at) = rest.find(prefix) {
            let tail = &rest[at + prefix.len()..];
            let run = tail.bytes().take_while(u8::is_ascii_alphanumeric).count();
            if run == 40 {
                found.push(format!("{prefix}{}", &tail[..run]));
            }
            rest = &rest[at + prefix.len()..];
        }
    }
    found
}

/// Fails if `text` (from `what`) holds a secret; shows where, not the secret.
fn assert_clean(what: &str, text: &str, secrets: &[String]) {
    for (i, secret) in secrets.iter().enumerate() {
        if let Some(at) = text.find(secret.as_str()) {
            let line = text[..at].lines().count();
            panic!("{what}: secret #{i} appears on line {line}");
        }
    }
    let tokens = tokens_in(text);
    assert!(
        tokens.is_empty(),
        "{what}: {} access/refresh tokens appear",
        tokens.len()
    );
}

/// A command's output, both streams, trace-level logging on.
async fn traced(world: &World, args: &[&str], env: &[(&str, Option<&str>)]) -> Output {
    let mut command = world.command(args);
    command
        .env("FLOWGEN_LOG", "trace")
        .env("RUST_LOG", "trace")
        .env("RUST_BACKTRACE", "1");
    for (name, value) in env {
        match value {
            Some(v) => command.env(name, v),
            None => command.env_remove(name),
        };
    }
    run_command(command).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_output_debug_or_state_shows_a_secret() {
    let good = credentials("good");
    let wrong = credentials("wrong");
    let mut secrets = secret_forms(&good);
    secrets.extend(secret_forms(&wrong));
    let defaults = Credentials::default();
    secrets.extend(secret_forms(&defaults));

    // Each kind of fault, often enough to be logged, rarely enough to stay quick.
    let faults: Faults = "5xx=5%,429=2%,retry_after=1,malformed=3%"
        .parse()
        .expect("faults");
    let world = World::start(Setup {
        records: 3,
        faults,
        credentials: good.clone(),
        // Tokens expire during a run: renewals and refreshes are logged too.
        token_lifetime: Some(Duration::from_millis(400)),
        ..Setup::default()
    })
    .await;

    let mut outputs: Vec<(String, Output)> = Vec::new();
    // A sync through faults and renewals; its JSON report; everything reading the state.
    for args in [
        &["sync", "--once"][..],
        &["sync", "--once", "--output", "json"],
        &["plan"],
        &["status"],
        &["links"],
        &["dead-letters", "list"],
        &["dead-letters", "retry"],
    ] {
        outputs.push((args.join(" "), traced(&world, args, &[]).await));
    }
    let synced = &outputs[0].1;
    assert!(
        matches!(synced.code(), Some(0 | 1)) && synced.stdout.contains("total:"),
        "the sync ran: {}\n{}",
        synced.stdout,
        synced.stderr
    );
    assert!(
        synced.stderr.contains("TRACE") || synced.stderr.contains("DEBUG"),
        "trace logging was on"
    );
    let stats = world.sandbox.stats();
    let renewed = stats
        .api(flowgen_sandbox::Api::PowerOffice)
        .endpoints
        .iter()
        .filter(|(route, _)| route.contains("Token"))
        .map(|(_, n)| n)
        .sum::<u64>();
    assert!(
        renewed >= 2,
        "PowerOffice Go tokens were renewed: {renewed}"
    );

    // Wrong secrets: every API refuses them.
    let wrong_env: Vec<(&str, Option<&str>)> = vec![
        ("CHARGEBEE_API_KEY", Some(wrong.chargebee_api_key.as_str())),
        (
            "POWEROFFICE_APPLICATION_KEY",
            Some(wrong.poweroffice_application_key.as_str()),
        ),
        (
            "POWEROFFICE_CLIENT_KEY",
            Some(wrong.poweroffice_client_key.as_str()),
        ),
        (
            "POWEROFFICE_SUBSCRIPTION_KEY",
            Some(wrong.poweroffice_subscription_key.as_str()),
        ),
        ("WEBCRM_AUTH_CODE", Some(wrong.webcrm_auth_code.as_str())),
        ("CUSTOMERP_TOKEN", Some(wrong.rest_token.as_str())),
        ("CUSTOMWEBSHOP_TOKEN", Some(wrong.rest_token.as_str())),
    ];
    let refused = traced(&world, &["sync", "--once"], &wrong_env).await;
    assert_ne!(refused.code(), Some(0), "wrong credentials fail the run");
    let text = format!("{}{}", refused.stdout, refused.stderr);
    assert!(
        text.contains("401") || text.to_lowercase().contains("unauthori"),
        "the refusal is reported: {text}"
    );
    outputs.push(("sync with wrong credentials".into(), refused));

    // A missing variable: named, with no value to show.
    let missing = traced(
        &world,
        &["sync", "--once"],
        &[("POWEROFFICE_CLIENT_KEY", None)],
    )
    .await;
    assert_ne!(missing.code(), Some(0));
    assert!(
        missing.stderr.contains("POWEROFFICE_CLIENT_KEY"),
        "the missing variable is named: {}",
        missing.stderr
    );
    outputs.push(("sync with a variable missing".into(), missing));

    // The demo (its own sandbox, the well-known credentials), traced, with faults.
    let demo = traced(
        &world,
        &[
            "demo",
            "--records",
            "2",
            "--faults",
            "5xx=5%,429=2%,retry_after=1,malformed=3%",
        ],
        &[],
    )
    .await;
    assert!(demo.stdout.contains("sandbox counters"), "{}", demo.stderr);
    outputs.push(("demo".into(), demo));

    // `flowgen sandbox` prints its banner (without --show-credentials): read it, stop it.
    outputs.push(("sandbox".into(), sandbox_banner(&world).await));

    for (what, output) in &outputs {
        eprintln!(
            "flowgen {what}: exit {:?}, {} bytes of stdout, {} bytes of stderr",
            output.code(),
            output.stdout.len(),
            output.stderr.len()
        );
        assert_clean(
            &format!("`flowgen {what}` stdout"),
            &output.stdout,
            &secrets,
        );
        assert_clean(
            &format!("`flowgen {what}` stderr"),
            &output.stderr,
            &secrets,
        );
    }

    // Debug of what holds the secrets or reads them.
    let config = Config::load(&world.config).expect("flowgen.yaml");
    assert_clean("Debug of Config", &format!("{config:?}"), &secrets);
    for (name, value) in &world.systems {
        let connector: ConnectorConfig =
            serde_json::from_value(value.clone()).expect("a connector configuration");
        assert_clean(
            &format!("Debug of {name}'s ConnectorConfig"),
            &format!("{connector:?}"),
            &secrets,
        );
    }
    assert_clean(
        "Debug of the connectors",
        &format!("{:?}", world.connectors()),
        &secrets,
    );
    assert_clean(
        "Debug of the sandbox",
        &format!("{:?}", world.sandbox),
        &secrets,
    );
    assert_clean(
        "Debug of the sandbox config",
        &format!("{:?}", world.sandbox.config()),
        &secrets,
    );
    assert_clean(
        "flowgen.yaml",
        &std::fs::read_to_string(&world.config).expect("flowgen.yaml"),
        &secrets,
    );
    // The state (payloads and errors of dead letters, intents, run reports).
    let state = std::fs::read(&world.state).expect("the state file");
    assert_clean("the state file", &String::from_utf8_lossy(&state), &secrets);
}

/// The banner of `flowgen sandbox`, up to its flowgen.yaml, then the process killed.
async fn sandbox_banner(world: &World) -> Output {
    let mut command = world.command(&["sandbox", "--records", "2"]);
    command.env("FLOWGEN_LOG", "trace").env("RUST_LOG", "trace");
    let mut child = command.spawn().expect("flowgen sandbox starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let errors = tokio::spawn(async move {
        let mut text = String::new();
        let _ = tokio::io::AsyncReadExt::read_to_string(&mut stderr, &mut text).await;
        text
    });
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let mut text = String::new();
    let read = async {
        while let Ok(Some(line)) = lines.next_line().await {
            text.push_str(&line);
            text.push('\n');
            if line.contains("systems:") {
                // The configuration follows; read it to its end (a blank line or EOF).
                while let Ok(Some(line)) = lines.next_line().await {
                    if line.trim().is_empty() {
                        break;
                    }
                    text.push_str(&line);
                    text.push('\n');
                }
                break;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), read)
        .await
        .expect("the banner within 30 s");
    child.start_kill().expect("stop the sandbox");
    let status = child.wait().await.expect("the sandbox ends");
    assert!(text.contains("CHARGEBEE_API_KEY"), "{text}");
    Output {
        status,
        stdout: text,
        stderr: errors.await.expect("stderr read"),
    }
}
