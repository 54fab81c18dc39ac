//! Where the MQTT adapter connects and what it subscribes to.

use std::time::Duration;

/// The broker and the subscription. Readings of device `D` of organisation `O` are published
/// (QoS 1) to `{root}/O/D/readings`; refusals go back on `{root}/O/D/errors`.
#[derive(Debug, Clone, PartialEq)]
pub struct MqttConfig {
    pub host: String,
    pub port: u16,
    /// The persistent session's client id: keep it stable across restarts, so the broker
    /// keeps what arrives while the platform is down and redelivers what was not acknowledged.
    pub client_id: String,
    /// First topic level (`jianghai`).
    pub root: String,
    /// Messages being stored at once, at most (each one holds its PUBACK until durable).
    pub in_flight: usize,
    pub keep_alive: Duration,
}

impl MqttConfig {
    /// From `mqtt://HOST[:PORT][?client_id=ID&root=ROOT]` (`tcp://` is accepted too; no TLS:
    /// reach a TLS broker through a local bridge).
    pub fn from_url(url: &str) -> Result<MqttConfig, String> {
        let rest = url
            .strip_prefix("mqtt://")
            .or_else(|| url.strip_prefix("tcp://"))
            .ok_or_else(|| {
                format!("MQTT URL {url:?} must start with mqtt:// (e.g. mqtt://127.0.0.1:1883)")
            })?;
        let (addr, query) = rest.split_once('?').unwrap_or((rest, ""));
        let addr = addr.trim_end_matches('/');
        let (host, port) = match addr.rsplit_once(':') {
            Some((h, p)) => (
                h,
                p.parse::<u16>()
                    .map_err(|_| format!("MQTT URL {url:?}: port {p:?} is not a number"))?,
            ),
            None => (addr, 1883),
        };
        if host.is_empty() {
            return Err(format!("MQTT URL {url:?} names no host"));
        }
        let mut config = MqttConfig {
            host: host.to_string(),
            port,
            client_id: "jianghai".into(),
            root: "jianghai".into(),
            in_flight: 64,
            keep_alive: Duration::from_secs(30),
        };
        for kv in query.split('&').filter(|kv| !kv.is_empty()) {
            match kv.split_once('=') {
                Some(("client_id", v)) if !v.is_empty() => config.client_id = v.to_string(),
                Some(("root", v)) if valid_level(v) => config.root = v.to_string(),
                _ => {
                    return Err(format!(
                        "MQTT URL {url:?}: unknown or empty parameter {kv:?} (client_id=…, root=…)"
                    ));
                }
            }
        }
        Ok(config)
    }

    /// The subscription: every organisation's every device.
    pub fn filter(&self) -> String {
        format!("{}/+/+/readings", self.root)
    }

    /// Where refusals for a device go.
    pub fn error_topic(&self, org: &str, device: &str) -> String {
        format!("{}/{org}/{device}/errors", self.root)
    }

    /// (organisation, device) of a readings topic.
    pub fn parse_topic<'t>(&self, topic: &'t str) -> Option<(&'t str, &'t str)> {
        let rest = topic.strip_prefix(self.root.as_str())?.strip_prefix('/')?;
        let rest = rest.strip_suffix("/readings")?;
        let (org, device) = rest.split_once('/')?;
        (valid_level(org) && valid_level(device)).then_some((org, device))
    }
}

fn valid_level(s: &str) -> bool {
    !s.is_empty() && !s.contains(['/', '+', '#']) && s.chars().all(|c| !c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_topics() {
        let c = MqttConfig::from_url("mqtt://127.0.0.1:1883").expect("url");
        assert_eq!((c.host.as_str(), c.port), ("127.0.0.1", 1883));
        assert_eq!(c.filter(), "jianghai/+/+/readings");
        let c = MqttConfig::from_url("tcp://broker?client_id=node-2&root=jh").expect("url");
        assert_eq!((c.host.as_str(), c.port), ("broker", 1883));
        assert_eq!((c.client_id.as_str(), c.root.as_str()), ("node-2", "jh"));
        assert_eq!(
            c.parse_topic("jh/org-a/dev-1/readings"),
            Some(("org-a", "dev-1"))
        );
        assert_eq!(c.parse_topic("jh/org-a/dev-1/errors"), None);
        assert_eq!(c.parse_topic("jh/org-a/x/dev-1/readings"), None);
        assert_eq!(c.parse_topic("jianghai/org-a/dev-1/readings"), None);
        assert_eq!(c.error_topic("org-a", "dev-1"), "jh/org-a/dev-1/errors");
        for bad in [
            "http://x",
            "mqtt://:1883",
            "mqtt://h:port",
            "mqtt://h?root=a/b",
            "mqtt://h?x=1",
        ] {
            assert!(MqttConfig::from_url(bad).is_err(), "{bad}");
        }
    }
}
