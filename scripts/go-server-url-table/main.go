// Command go-server-url-table records where client-go sends a request for each spelling of
// a cluster server URL, as a table that tenant-guard's server URL key
// (src/tenancy/cluster-url.ts, normalizeServerUrl) is tested against
// (test/tenancy/cluster-url.test.ts): two spellings that reach the same host and path must
// have one key, or two Tenants could each claim one of them.
//
// client-go parses the server with url.Parse, joins the decoded path with the API path
// (path.Join, which drops empty and dot segments) and writes it back with Go's escaping;
// it dials the host, and an IP literal is dialled (and its certificate checked) as the
// address net.ParseIP reads, an IPv4-mapped IPv6 address as IPv4. The table gives, for
// each spelling, the host and port dialled and the path sent for `api`, with `api` taken
// off again; `ok` is false when url.Parse refuses the spelling.
//
// Run: (cd scripts/go-server-url-table && GOTOOLCHAIN=local GOPROXY=off GOFLAGS=-mod=mod go run .) > test/fixtures/go-server-url-table.json
package main

import (
	"encoding/json"
	"net"
	"net/url"
	"os"
	"path"
	"runtime"
	"strings"
)

type row struct {
	Server string `json:"server"`
	OK     bool   `json:"ok"`
	Host   string `json:"host,omitempty"`
	Path   string `json:"path,omitempty"`
}

// Spellings of a few servers: each group holds what some client or proxy might treat as one.
var servers = []string{
	"https://shared.example.com/clusters/a-dev",
	"https://shared.example.com/clusters/%61-dev",
	"https://shared.example.com/clusters/%61%2d%64%65%76",
	"https://shared.example.com/%63lusters/a%2ddev",
	"https://shared.example.com/clusters//a-dev",
	"https://shared.example.com//clusters/a-dev",
	"https://shared.example.com/clusters/a-dev/",
	"https://shared.example.com/clusters/./a-dev",
	"https://shared.example.com/clusters/x/../a-dev",
	"https://shared.example.com/clusters/a;b",
	"https://shared.example.com/clusters/a%3Bb",
	"https://shared.example.com/clusters/a%3bb",
	"https://shared.example.com/clusters/a!",
	"https://shared.example.com/clusters/a%21",
	"https://shared.example.com/clusters/a(1)",
	"https://shared.example.com/clusters/a%281%29",
	"https://shared.example.com/clusters/a*",
	"https://shared.example.com/clusters/a%2A",
	"https://shared.example.com/clusters/a'b",
	"https://shared.example.com/clusters/a%27b",
	"https://shared.example.com/clusters/a=b,c@d$e&f+g:h",
	"https://shared.example.com/clusters/a%3Db%2Cc%40d%24e%26f%2Bg%3Ah",
	"https://shared.example.com/clusters/a~b",
	"https://shared.example.com/clusters/a%7Eb",
	"https://shared.example.com/clusters/a%7eb",
	"https://shared.example.com/clusters/%C3%A9",
	"https://shared.example.com/clusters/%c3%a9",
	"https://shared.example.com/clusters/a%25b",
	"https://shared.example.com/clusters/a%2561",
	"https://shared.example.com/clusters/a%2Fb",
	"https://shared.example.com/clusters/a/b",
	"https://shared.example.com/clusters/a%20b",
	"https://shared.example.com:443/clusters/a-dev",
	"https://SHARED.example.com/clusters/a-dev",
	"https://10.0.0.1",
	"https://10.0.0.1:443",
	"https://[::ffff:10.0.0.1]",
	"https://[::ffff:a00:1]",
	"https://[0:0:0:0:0:ffff:a00:1]",
	"https://[2001:db8::1]",
	"https://[2001:DB8:0::1]",
	"https://10.0.0.2",
	"https://shared.example.com/clusters/a-dev/x//..",
	"https://shared.example.com/clusters/a-dev/x//%2e%2e",
	"https://shared.example.com/clusters/a-dev/x/..",
	"https://shared.example.com/clusters/a-dev//..",
	"https://shared.example.com/clusters",
	"https://shared.example.com/anything//..",
	"https://shared.example.com",
	"https://shared.example.com/",
	"https://10.0.0.1/x//..",
	"https://shared.example.com/clusters/%2e/a-dev",
	"https://shared.example.com/clusters/.%2E/clusters/a-dev",
	"https://shared.example.com/clusters/a-dev/%2e%2e//a-dev",
	"https://shared.example.com/clusters/a-dev/.../x",
}

func main() {
	rows := make([]row, 0, len(servers))
	for _, s := range servers {
		u, err := url.Parse(s)
		if err != nil {
			rows = append(rows, row{Server: s})
			continue
		}
		host := strings.ToLower(u.Hostname())
		if ip := net.ParseIP(host); ip != nil {
			if v4 := ip.To4(); v4 != nil {
				host = v4.String()
			} else {
				host = "[" + ip.String() + "]"
			}
		}
		port := u.Port()
		if port == "" {
			port = "443"
		}
		sent := *u
		sent.Path = path.Join("/", u.Path, "api")
		sent.RawPath = ""
		rows = append(rows, row{
			Server: s,
			OK:     true,
			Host:   host + ":" + port,
			Path:   strings.TrimSuffix(sent.EscapedPath(), "/api"),
		})
	}
	out := json.NewEncoder(os.Stdout)
	out.SetIndent("", "  ")
	out.SetEscapeHTML(false)
	if err := out.Encode(map[string]any{"goVersion": runtime.Version(), "rows": rows}); err != nil {
		panic(err)
	}
}
