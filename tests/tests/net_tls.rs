//! TLS on loopwork with no glue: futures-rustls works on loopwork's
//! sockets directly (both are futures-io). An echo server and its clients
//! on one loop, with a certificate made when the test runs.

use futures_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use futures_rustls::rustls::{self, ClientConfig, RootCertStore, ServerConfig};
use futures_rustls::{TlsAcceptor, TlsConnector};
use loopwork::io::{AsyncReadExt, AsyncWriteExt};
use loopwork::net::{TcpListener, TcpStream};
use std::sync::Arc;

/// A self-signed certificate for `localhost`, and configurations that
/// serve it and trust it.
fn configs() -> (ServerConfig, ClientConfig) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert: CertificateDer<'static> = certified.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .unwrap();
    let mut roots = RootCertStore::empty();
    roots.add(cert).unwrap();
    let client = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    (server, client)
}

#[loopwork::test(workers = 2)]
async fn tls_echo_over_futures_rustls() {
    let (server_config, client_config) = configs();
    let acceptor = TlsAcceptor::from(Arc::new(server_config));
    let connector = TlsConnector::from(Arc::new(client_config));
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();

    loopwork::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let acceptor = acceptor.clone();
            loopwork::spawn(async move {
                let mut tls = acceptor.accept(stream).await.unwrap();
                let mut buf = vec![0; 4096];
                loop {
                    let n = tls.read(&mut buf).await.unwrap();
                    if n == 0 {
                        break;
                    }
                    tls.write_all(&buf[..n]).await.unwrap();
                }
                tls.close().await.unwrap();
            });
        }
    });

    let clients: Vec<_> = (0..20)
        .map(|client| {
            let connector = connector.clone();
            loopwork::spawn(async move {
                let stream = TcpStream::connect(addr).await.unwrap();
                let name = ServerName::try_from("localhost").unwrap();
                let mut tls = connector.connect(name, stream).await.unwrap();
                for round in 0..10 {
                    let sent: Vec<u8> = (0..1000 + client * 10 + round).map(|i| (i % 251) as u8).collect();
                    tls.write_all(&sent).await.unwrap();
                    let mut echoed = vec![0; sent.len()];
                    tls.read_exact(&mut echoed).await.unwrap();
                    assert!(echoed == sent, "client {client} round {round}: the echo differs");
                }
                tls.close().await.unwrap();
                let mut rest = Vec::new();
                tls.read_to_end(&mut rest).await.unwrap();
                assert!(rest.is_empty());
            })
        })
        .collect();
    loopwork::try_gather(clients).await.unwrap();
}

#[loopwork::test(strict)]
async fn a_client_that_does_not_trust_the_certificate_is_refused() {
    let (server_config, _) = configs();
    let (_, stranger) = configs(); // trusts another certificate
    let acceptor = TlsAcceptor::from(Arc::new(server_config));
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = loopwork::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        acceptor.accept(stream).await.is_err()
    });
    let stream = TcpStream::connect(addr).await.unwrap();
    let refused = TlsConnector::from(Arc::new(stranger))
        .connect(ServerName::try_from("localhost").unwrap(), stream)
        .await
        .unwrap_err();
    assert_eq!(refused.kind(), std::io::ErrorKind::InvalidData, "{refused}");
    assert!(server.await.unwrap(), "the server sees the handshake fail too");
}
