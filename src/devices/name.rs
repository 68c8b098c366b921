//! Short human names for the devices sessions come from ("Chrome 131 on
//! macOS", "Firefox 133 on Android", "curl 8.5", "Unknown device"), parsed
//! from the `User-Agent` by woothee, a maintained parser with a shared test
//! set across languages, small and without a data file to ship or update
//! separately (uaparser needs its regexes.yaml loaded at start-up).

use std::sync::LazyLock;

static PARSER: LazyLock<woothee::parser::Parser> = LazyLock::new(woothee::parser::Parser::new);

/// What is shown when nothing parses.
pub const UNKNOWN: &str = "Unknown device";

/// The device name of `user_agent`.
pub fn device_name(user_agent: Option<&str>) -> String {
    let Some(agent) = user_agent.map(str::trim).filter(|a| !a.is_empty()) else {
        return UNKNOWN.to_owned();
    };
    if let Some(tool) = command_line_tool(agent) {
        return tool;
    }
    let Some(found) = PARSER.parse(agent) else {
        return UNKNOWN.to_owned();
    };
    let name = found.name;
    if name.is_empty() || name == woothee::woothee::VALUE_UNKNOWN {
        return UNKNOWN.to_owned();
    }
    let major = found.version.split('.').next().unwrap_or_default();
    let browser = if major.is_empty() || major == woothee::woothee::VALUE_UNKNOWN {
        name.to_owned()
    } else {
        format!("{name} {major}")
    };
    match os_name(found.os) {
        Some(os) => format!("{browser} on {os}"),
        None => browser,
    }
}

/// The operating system's everyday name, if woothee found one.
fn os_name(os: &str) -> Option<&str> {
    Some(match os {
        "" | woothee::woothee::VALUE_UNKNOWN => return None,
        "Mac OSX" => "macOS",
        "iPhone" | "iPad" | "iPod" => "iOS",
        os if os.starts_with("Windows") => "Windows",
        os => os,
    })
}

/// HTTP libraries and tools woothee files under "UNKNOWN": `curl/8.5.0` →
/// "curl 8.5". A name and a dotted version, nothing else.
fn command_line_tool(agent: &str) -> Option<String> {
    const TOOLS: [&str; 6] = [
        "curl",
        "Wget",
        "python-requests",
        "HTTPie",
        "node-fetch",
        "okhttp",
    ];
    let (name, version) = agent.split_once('/')?;
    if !TOOLS.iter().any(|t| t.eq_ignore_ascii_case(name)) {
        return None;
    }
    let version = version.split_whitespace().next().unwrap_or_default();
    let short: Vec<&str> = version.split('.').take(2).collect();
    if short.is_empty()
        || short
            .iter()
            .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return Some(name.to_owned());
    }
    Some(format!("{name} {}", short.join(".")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everyday_agents_get_everyday_names() {
        let cases = [
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
                "Chrome 131 on macOS",
            ),
            (
                "Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0",
                "Firefox 133 on Android",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
                "Edge 131 on Windows",
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
                "Safari 17 on iOS",
            ),
            ("curl/8.5.0", "curl 8.5"),
        ];
        for (agent, expected) in cases {
            assert_eq!(device_name(Some(agent)), expected, "{agent}");
        }
    }

    #[test]
    fn nothing_to_parse_is_an_unknown_device() {
        for agent in [None, Some(""), Some("   "), Some("\u{1}garbage\u{2}")] {
            assert_eq!(device_name(agent), UNKNOWN, "{agent:?}");
        }
    }
}
