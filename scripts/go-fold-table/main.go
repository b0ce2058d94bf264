// Command go-fold-table records how Go's encoding/json matches JSON object keys to struct
// field names, as a table that tenant-guard's TypeScript fold module
// (src/policy/go-json-fold.ts) is tested against (test/policy/go-json-fold.test.ts).
//
// Argo CD decodes cluster Secret `config` and the raw children of nested ApplicationSet
// generators with encoding/json, which prefers an exact field name and otherwise takes the
// first field whose name matches case-insensitively. Which non-ASCII letters count as a
// case variant of an ASCII one has changed between Go versions:
//   - up to Go 1.20, fold.go's foldFunc: bytes.EqualFold (Unicode simple folding orbits),
//     so U+017F (long s) matches "s" and U+212A (Kelvin sign) matches "k", nothing else;
//   - from Go 1.21, fold.go's foldName: each rune becomes unicode.ToUpper(unicode.ToLower(r)),
//     so U+0131 (dotless i) and U+0130 (I with dot above) match "i" as well.
//
// The table has two columns for every key: `decoded`, what json.Unmarshal of the Go that
// runs this program does (the ground truth for that version), and `foldName`, what Go 1.21's
// algorithm (appendFoldedName, copied below from the Go source) gives with this Go's unicode
// tables. Argo CD 3.x is built with Go 1.24 or later, so `foldName` is what it does; on a
// machine with Go 1.21 or later both columns must agree, and the test checks that.
//
// Run: (cd scripts/go-fold-table && GOTOOLCHAIN=local GOPROXY=off GOFLAGS=-mod=mod go run .) > test/fixtures/go-fold-table.json
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"runtime"
	"strings"
	"unicode"
	"unicode/utf8"
)

// group is a set of field names decoded together, as in one Go struct.
type group struct {
	Name   string   `json:"name"`
	Fields []string `json:"fields"`
}

// The structs Argo CD decodes with encoding/json where tenant-guard checks keys
// (pkg/apis/application/v1alpha1 of argo-cd), plus probes for single letters.
var groups = []group{
	{"ClusterConfig", []string{"username", "password", "bearerToken", "tlsClientConfig", "awsAuthConfig", "execProviderConfig", "disableCompression", "proxyUrl"}},
	{"TLSClientConfig", []string{"insecure", "serverName", "certData", "keyData", "caData"}},
	{"ExecProviderConfig", []string{"command", "args", "env", "apiVersion", "installHint", "provideClusterInfo", "config"}},
	{"AWSAuthConfig", []string{"clusterName", "roleARN", "profile"}},
	{"ApplicationSetGenerator", []string{"list", "clusters", "git", "scmProvider", "clusterDecisionResource", "pullRequest", "matrix", "merge", "selector", "plugin"}},
	{"LabelSelector", []string{"matchLabels", "matchExpressions"}},
	{"Probes", []string{"id", "ss", "sk", "ff", "fi", "st", "kind", "ik"}},
}

type result struct {
	Group    string  `json:"group"`
	Key      string  `json:"key"`
	Decoded  *string `json:"decoded"`
	FoldName *string `json:"foldName"`
}

type runeFold struct {
	Rune     int     `json:"rune"`
	Decoded  *string `json:"decoded"`
	FoldName *string `json:"foldName"`
}

type table struct {
	Comment   string     `json:"comment"`
	GoVersion string     `json:"goVersion"`
	Groups    []group    `json:"groups"`
	Cases     []result   `json:"cases"`
	Runes     []runeFold `json:"runes"`
}

// structFor builds a struct type with one json.RawMessage field per name, in order.
func structFor(names []string) reflect.Type {
	fields := make([]reflect.StructField, len(names))
	for i, n := range names {
		fields[i] = reflect.StructField{
			Name: fmt.Sprintf("F%d", i),
			Type: reflect.TypeOf(json.RawMessage(nil)),
			Tag:  reflect.StructTag(fmt.Sprintf(`json:%q`, n)),
		}
	}
	return reflect.StructOf(fields)
}

// decodedField is the field json.Unmarshal fills from {key: 1}, or nil.
func decodedField(t reflect.Type, names []string, key string) *string {
	body, err := json.Marshal(map[string]int{key: 1})
	if err != nil {
		panic(err)
	}
	v := reflect.New(t)
	if err := json.Unmarshal(body, v.Interface()); err != nil {
		panic(err)
	}
	for i := range names {
		if len(v.Elem().Field(i).Bytes()) > 0 {
			return &names[i]
		}
	}
	return nil
}

// appendFoldedName is copied from Go 1.21's src/encoding/json/fold.go
// (Copyright 2013 The Go Authors, BSD-style license).
func appendFoldedName(out, in []byte) []byte {
	for i := 0; i < len(in); {
		// Handle single-byte ASCII.
		if c := in[i]; c < utf8.RuneSelf {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			out = append(out, c)
			i++
			continue
		}
		// Handle multi-byte Unicode.
		r, n := utf8.DecodeRune(in[i:])
		out = utf8.AppendRune(out, unicode.ToUpper(unicode.ToLower(r)))
		i += n
	}
	return out
}

func foldName(s string) string { return string(appendFoldedName(nil, []byte(s))) }

// foldNameField is the field Go 1.21's decoder picks: an exact name, else the first field
// with the same folded name (decode.go: byExactName, then byFoldedName).
func foldNameField(names []string, key string) *string {
	for i := range names {
		if names[i] == key {
			return &names[i]
		}
	}
	for i := range names {
		if foldName(names[i]) == foldName(key) {
			return &names[i]
		}
	}
	return nil
}

// variants are the candidate keys tried for one field name.
func variants(name string) []string {
	out := []string{name, strings.ToLower(name), strings.ToUpper(name), strings.Title(name), swapCase(name)}
	subs := []struct{ from, to string }{
		{"s", "\u017f"}, {"S", "\u017f"}, {"k", "\u212a"}, {"K", "\u212a"},
		{"i", "\u0131"}, {"I", "\u0131"}, {"i", "\u0130"}, {"I", "\u0130"},
		{"ss", "\u00df"}, {"ff", "\ufb00"}, {"fi", "\ufb01"}, {"st", "\ufb06"},
		{"a", "\uff41"}, {"e", "\u00e9"}, {"k", "\u0138"},
	}
	for _, s := range subs {
		for _, base := range []string{name, strings.ToUpper(name)} {
			if strings.Contains(base, s.from) {
				out = append(out, strings.Replace(base, s.from, s.to, 1), strings.ReplaceAll(base, s.from, s.to))
			}
		}
	}
	return out
}

func swapCase(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsUpper(r) {
			return unicode.ToLower(r)
		}
		return unicode.ToUpper(r)
	}, s)
}

// extraKeys are tried in every group beside the variants of its fields.
var extraKeys = []string{"", "\u0130d", "\u0131d", "ID", "Id", "iD", "\u00df", "\ufb00", "\u017f\u017f", "\u212aind", "\u212a\u0130nd", "SS", "s\u017f", "constructor", "__proto__", "toString"}

func main() {
	out := table{
		Comment:   "Generated by scripts/go-fold-table (go run .): which field encoding/json fills from each key. Do not edit; see test/policy/go-json-fold.test.ts.",
		GoVersion: runtime.Version(),
		Groups:    groups,
	}
	for _, g := range groups {
		t := structFor(g.Fields)
		seen := map[string]bool{}
		var keys []string
		for _, f := range g.Fields {
			keys = append(keys, variants(f)...)
		}
		keys = append(keys, extraKeys...)
		for _, k := range keys {
			if seen[k] {
				continue
			}
			seen[k] = true
			out.Cases = append(out.Cases, result{Group: g.Name, Key: k, Decoded: decodedField(t, g.Fields, k), FoldName: foldNameField(g.Fields, k)})
		}
	}
	// Every non-ASCII rune decoded against one-letter fields "a".."z": the complete list
	// of the runes each algorithm treats as a case variant of an ASCII letter.
	letters := make([]string, 26)
	for i := range letters {
		letters[i] = string(rune('a' + i))
	}
	t := structFor(letters)
	for r := rune(0x80); r <= unicode.MaxRune; r++ {
		if r >= 0xD800 && r <= 0xDFFF {
			continue
		}
		key := string(r)
		decoded := decodedField(t, letters, key)
		folded := foldNameField(letters, key)
		if decoded != nil || folded != nil {
			out.Runes = append(out.Runes, runeFold{Rune: int(r), Decoded: decoded, FoldName: folded})
		}
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	if err := enc.Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
