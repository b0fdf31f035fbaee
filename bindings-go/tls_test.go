package headwater

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fixture is a file of the shared test certificates (tests/fixtures/tls).
func fixture(name string) string { return filepath.Join(repo, "tests", "fixtures", "tls", name) }

// mutualTLS is what a client needs for mutual TLS with the test CA (producer config and admin options).
func mutualTLS() Config {
	return Config{"tls_ca_file": fixture("ca.pem"), "tls_cert_file": fixture("client.pem"),
		"tls_key_file": fixture("client.key")}
}

// startTLSBroker starts a broker whose listeners speak TLS and require a client certificate
// signed by the test CA.
func startTLSBroker(t *testing.T) *TestBroker {
	return startBroker(t, BrokerOptions{Spus: 1, TLSCert: fixture("server.pem"),
		TLSKey: fixture("server.key"), TLSClientCA: fixture("ca.pem")})
}

func TestTLSMutualEndToEnd(t *testing.T) {
	b := startTLSBroker(t)
	ctx := guard(t)
	a, err := ConnectAdmin(ctx, b.Endpoint(), mutualTLS())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.CreateTopic(ctx, "tls-topic", TopicOptions{Partitions: 2}); err != nil {
		t.Fatal(err)
	}
	cfg := mutualTLS()
	cfg["compression"] = "zstd"
	p := connect(t, b, "tls-topic", cfg)
	outs := make([]*ProduceOutput, 10)
	for i := range outs {
		if outs[i], err = p.Send([]byte(fmt.Sprintf("k%d", i)), []byte(fmt.Sprintf("v%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for i, o := range outs {
		m, err := o.Wait(ctx)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := b.Records("tls-topic", m.Partition, m.Offset)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 0 || recs[0].Offset != m.Offset || string(recs[0].Value) != fmt.Sprintf("v%d", i) ||
			string(recs[0].Key) != fmt.Sprintf("k%d", i) {
			t.Fatalf("record %d at %d/%d: the broker holds %+v", i, m.Partition, m.Offset, recs)
		}
	}
}

func TestTLSHandshakeFailures(t *testing.T) {
	b := startTLSBroker(t)
	if err := b.CreateTopic("tls-wrong-ca", TopicOptions{Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	ctx := guard(t)
	wrongCA := mutualTLS()
	wrongCA["tls_ca_file"] = fixture("other-ca.pem")
	cases := []struct {
		name string
		opts Config
		want string // in the message; "" = any TRANSPORT failure
	}{
		{"an unrelated CA cannot verify the broker", wrongCA, "certificate verification"},
		{"no client certificate where the broker requires one",
			Config{"tls_ca_file": fixture("ca.pem")}, "client certificate"},
		{"plaintext to a TLS listener", nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, err := ConnectAdmin(ctx, b.Endpoint(), c.opts)
			if err == nil {
				a.Close()
				t.Fatal("connected")
			}
			if he := wantCode(t, err, "TRANSPORT"); !strings.Contains(he.Message, c.want) {
				t.Fatalf("want %q in %q", c.want, he.Message)
			}
		})
	}
	// The producer sees the same verification failure, within its metadata timeout.
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	p, err := Connect(cctx, b.Endpoint(), "tls-wrong-ca",
		Config{"tls_ca_file": fixture("other-ca.pem"), "metadata_timeout_ms": "2000"})
	if err == nil {
		_ = p.Close(ctx)
		t.Fatal("connected with an unrelated CA")
	}
	if he := wantCode(t, err, "TRANSPORT"); !strings.Contains(he.Message, "certificate verification") {
		t.Fatalf("want a verification failure, got %q", he.Message)
	}
}

func TestTLSBrokerOptionErrorsNameTheKey(t *testing.T) {
	for _, c := range []struct {
		opts BrokerOptions
		key  string
	}{
		{BrokerOptions{TLSCert: "/no/such/file.pem", TLSKey: fixture("server.key")}, "tls_cert"},
		{BrokerOptions{TLSCert: fixture("server.pem")}, "tls_key"},
	} {
		b, err := StartTestBroker(c.opts)
		if err == nil {
			b.Stop()
			t.Fatalf("%+v started", c.opts)
		}
		if he := wantCode(t, err, "CONFIG"); !strings.Contains(he.Message, c.key) {
			t.Fatalf("want %q named in %q", c.key, he.Message)
		}
	}
}
