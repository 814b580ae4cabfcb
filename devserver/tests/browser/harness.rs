//! Debian's Chromium over WebDriver (chromedriver), driving the portal of a
//! devserver started for the test. Every state a test reaches is saved as
//! a PNG under `test-output/screenshots/`; axe-core (pinned in
//! `portal/package.json`) checks a page for serious and critical problems.
//! Both programs come from `scripts/install_browser.sh`; nothing is
//! downloaded while the tests run.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use crate::common::{self, Server};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const WAIT: Duration = Duration::from_secs(15);

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace")
        .to_owned()
}

pub fn screenshots() -> PathBuf {
    workspace().join("test-output/screenshots")
}

/// A devserver for a browser test: a seed file from `seed`, extra
/// environment, and on `Store::DynamoDb` the emulator of the test command.
pub fn devserver(seed: &Value, store: Store, envs: &[(&str, &str)]) -> (Server, tempdir::Dir) {
    let dir = tempdir::Dir::new("portal-seed");
    let path = dir.path().join("seed.json");
    std::fs::write(&path, seed.to_string()).expect("write seed");
    let path = path.display().to_string();
    let mut all: Vec<(String, String)> = vec![("SEED_FILE".into(), path)];
    if store == Store::DynamoDb {
        let endpoint = std::env::var("TEST_DYNAMODB_ENDPOINT").unwrap_or_else(|_| {
            panic!(
                "TEST_DYNAMODB_ENDPOINT is not set: run the tests with ./scripts/test.sh, which starts the DynamoDB emulator"
            )
        });
        let table = format!("portal-{}", common::free_port());
        all.extend([
            ("STORE".into(), "dynamodb".into()),
            ("CREATE_TABLE".into(), "true".into()),
            ("TABLE_NAME".into(), table),
            ("AWS_ENDPOINT_URL_DYNAMODB".into(), endpoint),
        ]);
    }
    all.extend(envs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    let borrowed: Vec<(&str, &str)> = all.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (server, _) = common::start(&borrowed);
    (server, dir)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    Memory,
    DynamoDb,
}

pub struct Browser {
    pub client: Client,
    driver: Child,
    _profile: tempdir::Dir,
    pub base: String,
    name: String,
    shots: u32,
}

impl Drop for Browser {
    /// Stops chromedriver and the Chromium it started: they share a
    /// process group of their own, so a test that fails before `close`
    /// leaves no browser behind.
    fn drop(&mut self) {
        let group = format!("-{}", self.driver.id());
        for signal in ["-TERM", "-KILL"] {
            let _ = Command::new("kill")
                .args([signal, "--", &group])
                .stderr(Stdio::null())
                .status();
            if signal == "-TERM" {
                std::thread::sleep(Duration::from_millis(200));
            }
        }
        let _ = self.driver.wait();
    }
}

/// A browser session on `server`'s portal; `phone`: a 360×740 touch screen
/// at 2× (Chromium's mobile emulation), else a 1280×800 laptop window.
pub async fn browser(server: &Server, name: &str, phone: bool) -> Browser {
    for program in [CHROMIUM, CHROMEDRIVER] {
        assert!(
            Path::new(program).exists(),
            "{program} is missing: run ./scripts/install_browser.sh (the test command does)"
        );
    }
    let port = common::free_port();
    let driver = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .process_group(0)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let profile = tempdir::Dir::new("chromium-profile");
    let mut args = vec![
        "--headless=new".to_owned(),
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        "--disable-dev-shm-usage".into(),
        "--disable-background-networking".into(),
        "--disable-component-update".into(),
        "--disable-sync".into(),
        "--disable-quic".into(),
        "--no-first-run".into(),
        "--hide-scrollbars".into(),
        format!("--user-data-dir={}", profile.path().display()),
    ];
    let mut options = json!({"binary": CHROMIUM});
    if phone {
        options["mobileEmulation"] = json!({
            "deviceMetrics": {"width": 360, "height": 740, "pixelRatio": 2.0, "touch": true},
            "userAgent": "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Mobile Safari/537.36"
        });
    } else {
        args.push("--window-size=1280,800".into());
    }
    options["args"] = json!(args);
    let mut capabilities = serde_json::Map::new();
    capabilities.insert("goog:chromeOptions".into(), options);
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    let client = loop {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector)
            .capabilities(capabilities.clone())
            .connect(&url)
            .await
        {
            Ok(client) => break client,
            Err(err) if Instant::now() > deadline => panic!("no WebDriver session: {err}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    };
    std::fs::create_dir_all(screenshots()).expect("screenshot folder");
    Browser {
        client,
        driver,
        _profile: profile,
        base: format!("http://127.0.0.1:{}", server.port),
        name: name.to_owned(),
        shots: 0,
    }
}

impl Browser {
    pub async fn open(&self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .expect("navigate");
    }

    /// `(data-page, data-state)` of `<main>`.
    pub async fn state(&self) -> (String, String) {
        let found = self
            .client
            .execute(
                "const m = document.querySelector('main#main'); return m ? [m.dataset.page || '', m.dataset.state || ''] : ['', ''];",
                vec![],
            )
            .await
            .unwrap_or(Value::Null);
        (
            found[0].as_str().unwrap_or("").to_owned(),
            found[1].as_str().unwrap_or("").to_owned(),
        )
    }

    /// Waits until `<main>` shows `page` in `state`; on time-out, saves a
    /// screenshot and fails with what the page shows instead.
    pub async fn wait_state(&mut self, page: &str, state: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            let (p, s) = self.state().await;
            if p == page && s == state {
                return;
            }
            if Instant::now() > deadline {
                self.shot(&format!("TIMEOUT-{page}-{state}")).await;
                let text = self.text("main").await;
                let url = self.client.current_url().await.map(|u| u.to_string());
                panic!("waited for {page}/{state}; the page is {p}/{s} at {url:?}: {text}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The page is at a path ending with `suffix` (an invite token kept
    /// through sign-in).
    pub async fn assert_path_ends_with(&self, suffix: &str) {
        let url = self.client.current_url().await.expect("url");
        assert!(url.path().ends_with(suffix), "at {url}, not …{suffix}");
    }

    pub async fn wait_for(&mut self, css: &str) {
        let deadline = Instant::now() + WAIT;
        while self.client.find(Locator::Css(css)).await.is_err() {
            if Instant::now() > deadline {
                self.shot(&format!(
                    "TIMEOUT-{}",
                    css.replace(['#', '.', ' ', '[', ']', '"', '='], "_")
                ))
                .await;
                panic!(
                    "no {css} at {:?}: {}",
                    self.client.current_url().await.map(|u| u.to_string()),
                    self.text("body").await
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn click(&mut self, css: &str) {
        self.wait_for(css).await;
        self.client
            .find(Locator::Css(css))
            .await
            .expect("element")
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    pub async fn fill(&mut self, css: &str, text: &str) {
        self.wait_for(css).await;
        let element = self.client.find(Locator::Css(css)).await.expect("element");
        element.clear().await.expect("clear");
        element.send_keys(text).await.expect("type");
    }

    /// Chooses the local file `path` in the file input at `css`.
    pub async fn upload(&mut self, css: &str, path: &Path) {
        self.wait_for(css).await;
        let element = self.client.find(Locator::Css(css)).await.expect("element");
        element
            .send_keys(&path.display().to_string())
            .await
            .expect("choose the file");
    }

    /// Picks `value` in the `<select>` at `css`, as a user would (a
    /// `change` event follows).
    pub async fn select(&mut self, css: &str, value: &str) {
        self.wait_for(css).await;
        self.client
            .execute(
                "const s = document.querySelector(arguments[0]); s.value = arguments[1]; \
                 s.dispatchEvent(new Event('change', {bubbles: true})); return s.value;",
                vec![json!(css), json!(value)],
            )
            .await
            .unwrap_or_else(|e| panic!("select {value} in {css}: {e}"));
    }

    /// Waits until `css` matches exactly `n` elements.
    pub async fn wait_count(&mut self, css: &str, n: usize) {
        let deadline = Instant::now() + WAIT;
        loop {
            let found = self.count(css).await;
            if found == n {
                return;
            }
            if Instant::now() > deadline {
                self.shot("TIMEOUT-count").await;
                panic!("{found} of {css}, not {n}: {}", self.text("main").await);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn text(&self, css: &str) -> String {
        match self.client.find(Locator::Css(css)).await {
            Ok(element) => element.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    pub async fn attr(&self, css: &str, name: &str) -> Option<String> {
        self.client
            .find(Locator::Css(css))
            .await
            .ok()?
            .attr(name)
            .await
            .ok()?
    }

    /// The current value of a form field (its property, not its attribute).
    pub async fn value(&self, css: &str) -> String {
        match self.client.find(Locator::Css(css)).await {
            Ok(element) => element
                .prop("value")
                .await
                .ok()
                .flatten()
                .unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    pub async fn count(&self, css: &str) -> usize {
        self.client
            .find_all(Locator::Css(css))
            .await
            .map(|all| all.len())
            .unwrap_or(0)
    }

    /// Saves the viewport as `<test>-<nn>-<label>.png`.
    pub async fn shot(&mut self, label: &str) {
        self.shots += 1;
        // Let transitions and focus rings settle.
        tokio::time::sleep(Duration::from_millis(150)).await;
        if let Ok(png) = self.client.screenshot().await {
            let file = screenshots().join(format!("{}-{:02}-{label}.png", self.name, self.shots));
            std::fs::write(file, png).expect("save screenshot");
        }
    }

    /// axe-core on the current page: no serious or critical violation.
    pub async fn axe(&self) {
        let source =
            std::fs::read_to_string(workspace().join("portal/node_modules/axe-core/axe.min.js"))
                .expect("axe-core: run ./scripts/install_browser.sh (the test command does)");
        self.client
            .execute(
                &format!("if (!window.axe) {{ {source} }} return true;"),
                vec![],
            )
            .await
            .expect("inject axe-core");
        let found = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, {resultTypes: ['violations']}).then(r => done(
                   r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
                     .map(v => v.impact + ' ' + v.id + ': ' + v.help + ' @ ' + v.nodes.map(n => n.target.join(' ')).join(', '))
                 )).catch(e => done(['axe failed: ' + e]));",
                vec![],
            )
            .await
            .expect("axe.run");
        let problems: Vec<String> = serde_json::from_value(found).unwrap_or_default();
        let (page, state) = self.state().await;
        assert!(problems.is_empty(), "axe on {page}/{state}: {problems:#?}");
    }

    /// Every resource the page loaded came from the devserver itself.
    pub async fn only_first_party_requests(&self) {
        let urls = self
            .client
            .execute(
                "return [location.href].concat(performance.getEntriesByType('resource').map(e => e.name));",
                vec![],
            )
            .await
            .expect("resource entries");
        let urls: Vec<String> = serde_json::from_value(urls).unwrap_or_default();
        assert!(urls.len() > 1, "no resources seen: {urls:?}");
        for url in &urls {
            assert!(
                url.starts_with(&format!("{}/", self.base)),
                "third-party request: {url}"
            );
        }
    }

    /// On the development sign-in form: sign in as `email`.
    pub async fn sign_in_form(&mut self, email: &str, verified: bool, session_secs: Option<u32>) {
        self.wait_for("#sign-in-submit").await;
        self.fill("#email", email).await;
        self.fill("#name", &title_name(email)).await;
        let checked = self
            .client
            .find(Locator::Css("#email_verified"))
            .await
            .expect("checkbox")
            .prop("checked")
            .await
            .ok()
            .flatten();
        if (checked.as_deref() == Some("true")) != verified {
            self.click("#email_verified").await;
        }
        if let Some(secs) = session_secs {
            self.fill("#session_secs", &secs.to_string()).await;
        }
        self.click("#sign-in-submit").await;
    }

    /// Signed out (storage cleared), then signed in as `email` through the
    /// portal's Sign in button; ends on My Invitations.
    pub async fn sign_in_as(&mut self, email: &str) {
        self.open("/").await;
        self.client
            .execute(
                "localStorage.clear(); sessionStorage.clear(); return true;",
                vec![],
            )
            .await
            .expect("clear storage");
        self.open("/").await;
        self.wait_state("home", "signed-out").await;
        self.click("main #sign-in").await;
        self.sign_in_form(email, true, None).await;
        // Signed in once the callback has stored the session and the page
        // shows who is signed in; navigating earlier would cut it off.
        let deadline = Instant::now() + WAIT;
        while !self.text("#whoami").await.contains(email) {
            if Instant::now() > deadline {
                self.shot("TIMEOUT-sign-in").await;
                panic!("not signed in as {email}: {}", self.text("body").await);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The width the page lays out at is the viewport's: nothing scrolls sideways.
    pub async fn fits_the_screen(&self) {
        let sizes = self
            .client
            .execute(
                "return [document.documentElement.scrollWidth, window.innerWidth];",
                vec![],
            )
            .await
            .expect("sizes");
        let (scroll, inner) = (sizes[0].as_u64(), sizes[1].as_u64());
        assert!(
            scroll <= inner,
            "the page is wider than the screen: {scroll:?} > {inner:?}"
        );
    }

    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

fn title_name(email: &str) -> String {
    let local = email.split('@').next().unwrap_or(email);
    let mut chars = local.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().collect::<String>() + chars.as_str())
        .unwrap_or_default()
}

/// A temporary folder, removed when dropped.
pub mod tempdir {
    use std::path::{Path, PathBuf};

    pub struct Dir(PathBuf);

    impl Dir {
        pub fn new(prefix: &str) -> Self {
            let mut bytes = [0u8; 8];
            getrandom::fill(&mut bytes).expect("randomness");
            let name: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            let path = std::env::temp_dir().join(format!("{prefix}-{name}"));
            std::fs::create_dir_all(&path).expect("temp dir");
            Self(path)
        }

        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}
