//! `stockctl certs DIR`: a private CA and certificates for a local TLS cluster (`make cluster
//! TLS=1`, tests). Each node gets a certificate valid as a server and as a client (nodes are
//! both to each other), and one client certificate is made for stockctl and order platforms.
//!
//! For loopback and development: production certificates come from the operator's own CA.

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use std::path::Path;
use stockraft_client::Error;

fn failed(what: &str) -> impl FnOnce(rcgen::Error) -> Error + '_ {
    move |e| Error::Usage(format!("{what}: {e}"))
}

fn write(dir: &Path, name: &str, text: &str, secret: bool) -> Result<(), Error> {
    let path = dir.join(name);
    std::fs::write(&path, text).map_err(|e| Error::Usage(format!("cannot write {}: {e}", path.display())))?;
    if secret {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| Error::Usage(format!("cannot restrict {}: {e}", path.display())))?;
    }
    Ok(())
}

/// Writes ca.pem, node<N>.pem and node<N>-key.pem for N in 1..=nodes, client.pem and
/// client-key.pem into `dir`; every certificate names `hosts` (DNS names or IP addresses).
pub fn generate(dir: &Path, nodes: u64, hosts: &[String]) -> Result<Vec<String>, Error> {
    if nodes == 0 || nodes > 100 {
        return Err(Error::Usage("--nodes must be 1 to 100".into()));
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::Usage(format!("cannot create {}: {e}", dir.display())))?;
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(failed("CA"))?;
    ca.distinguished_name.push(DnType::CommonName, "stockraft local CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().map_err(failed("CA key"))?).map_err(failed("CA"))?;
    write(dir, "ca.pem", &ca.pem(), false)?;
    let mut written = vec!["ca.pem".to_string()];

    let mut leaf = |name: &str, common_name: &str, usages: Vec<ExtendedKeyUsagePurpose>| -> Result<(), Error> {
        let mut params = CertificateParams::new(hosts.to_vec()).map_err(failed(name))?;
        params.distinguished_name.push(DnType::CommonName, common_name);
        params.extended_key_usages = usages;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        let key = KeyPair::generate().map_err(failed(name))?;
        let cert = params.signed_by(&key, &ca).map_err(failed(name))?;
        write(dir, &format!("{name}.pem"), &cert.pem(), false)?;
        write(dir, &format!("{name}-key.pem"), &key.serialize_pem(), true)?;
        written.push(format!("{name}.pem"));
        written.push(format!("{name}-key.pem"));
        Ok(())
    };
    for node in 1..=nodes {
        leaf(
            &format!("node{node}"),
            &format!("stockraft node {node}"),
            vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth],
        )?;
    }
    leaf("client", "stockraft client", vec![ExtendedKeyUsagePurpose::ClientAuth])?;
    Ok(written)
}
