//! `--sample`: the example environment compiled into the binary
//! (`ovf/sample-ovf-env.xml`), so the whole job can be tried anywhere.

use super::{Delivery, Fetched, Transport, TransportError};

/// The embedded example document.
pub const SAMPLE_OVF_ENV: &str = include_str!("../../../ovf/sample-ovf-env.xml");

#[derive(Debug, Clone, Copy, Default)]
pub struct SampleTransport;

impl Transport for SampleTransport {
    fn name(&self) -> &'static str {
        "sample"
    }

    fn fetch(&self) -> Result<Fetched, TransportError> {
        Ok(Fetched::Found(Delivery::document(
            "built-in ovf/sample-ovf-env.xml",
            SAMPLE_OVF_ENV.as_bytes().to_vec(),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ovf::read_environment;

    #[test]
    fn the_sample_is_a_valid_environment_for_the_settings() {
        let env = read_environment(&[Box::new(SampleTransport)]).unwrap();
        assert_eq!(env.transport, "sample");
        let settings = crate::settings::Settings::from_properties(&env.properties).unwrap();
        assert_eq!(settings.hostname.fqdn(), "veba01.lab.example.com");
        assert!(
            settings.tls.is_none(),
            "the sample plans a self-signed certificate"
        );
    }
}
