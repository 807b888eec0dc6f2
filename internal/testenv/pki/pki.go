/*
Copyright 2026 The kubevirt-wol Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

// Package pki makes the certificates the test harnesses need: certificate
// authorities, serving certificates for local HTTPS servers and client
// certificates (kube-apiserver's front-proxy client, for instance). Keys are
// P-256 ECDSA; certificates are valid for a day.
package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"time"
)

// KeyPair is a certificate with its key.
type KeyPair struct {
	// Cert is the parsed certificate.
	Cert *x509.Certificate
	// CertPEM and KeyPEM are the PEM encodings of the certificate and key.
	CertPEM, KeyPEM []byte
	key             *ecdsa.PrivateKey
}

// TLS returns the pair as a tls.Certificate.
func (k *KeyPair) TLS() (tls.Certificate, error) { return tls.X509KeyPair(k.CertPEM, k.KeyPEM) }

// Write writes the certificate and key, PEM-encoded, to certFile and keyFile.
func (k *KeyPair) Write(certFile, keyFile string) error {
	if err := os.WriteFile(certFile, k.CertPEM, 0o600); err != nil {
		return err
	}
	return os.WriteFile(keyFile, k.KeyPEM, 0o600)
}

// Pool returns a certificate pool holding only this certificate (for a CA).
func (k *KeyPair) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(k.Cert)
	return p
}

// NewCA returns a self-signed certificate authority.
func NewCA(name string) (*KeyPair, error) {
	return issue(nil, &x509.Certificate{
		Subject:               pkix.Name{CommonName: name},
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	})
}

// NewServer returns a serving certificate signed by ca for dnsNames and ips.
func NewServer(ca *KeyPair, cn string, dnsNames []string, ips []net.IP) (*KeyPair, error) {
	return issue(ca, &x509.Certificate{
		Subject:     pkix.Name{CommonName: cn},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:    dnsNames,
		IPAddresses: ips,
	})
}

// NewClient returns a client certificate signed by ca for the user cn.
func NewClient(ca *KeyPair, cn string) (*KeyPair, error) {
	return issue(ca, &x509.Certificate{
		Subject:     pkix.Name{CommonName: cn},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
}

func issue(ca *KeyPair, tmpl *x509.Certificate) (*KeyPair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, err
	}
	tmpl.SerialNumber = serial
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = time.Now().Add(24 * time.Hour)
	parent, signer := tmpl, key
	if ca != nil {
		parent, signer = ca.Cert, ca.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		return nil, fmt.Errorf("creating certificate %s: %w", tmpl.Subject.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	return &KeyPair{
		Cert:    cert,
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
		key:     key,
	}, nil
}
