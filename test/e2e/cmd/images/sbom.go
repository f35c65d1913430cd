package main

import (
	"debug/buildinfo"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"
)

// writeSBOM writes an SPDX 2.3 JSON software bill of materials of the Go
// binary bin to out: the main module (at version), the Go standard library
// and every module linked in, from the build information the Go toolchain
// embeds in the binary.
func writeSBOM(bin, image, version, arch, out string) error {
	bi, err := buildinfo.ReadFile(bin)
	if err != nil {
		return fmt.Errorf("%s: %w", bin, err)
	}
	type ref struct {
		Category string `json:"referenceCategory"`
		Type     string `json:"referenceType"`
		Locator  string `json:"referenceLocator"`
	}
	type pkg struct {
		ID       string `json:"SPDXID"`
		Name     string `json:"name"`
		Version  string `json:"versionInfo"`
		Download string `json:"downloadLocation"`
		Refs     []ref  `json:"externalRefs"`
	}
	type rel struct {
		From string `json:"spdxElementId"`
		Type string `json:"relationshipType"`
		To   string `json:"relatedSpdxElement"`
	}
	var pkgs []pkg
	var rels []rel
	add := func(path, ver string) {
		id := fmt.Sprintf("SPDXRef-Package-%d", len(pkgs))
		purl := "pkg:golang/" + path + "@" + ver
		if path == "stdlib" {
			purl = "pkg:golang/stdlib@" + strings.TrimPrefix(ver, "go")
		}
		pkgs = append(pkgs, pkg{ID: id, Name: path, Version: ver, Download: "NOASSERTION",
			Refs: []ref{{"PACKAGE-MANAGER", "purl", purl}}})
		if len(pkgs) == 1 {
			rels = append(rels, rel{"SPDXRef-DOCUMENT", "DESCRIBES", id})
		} else {
			rels = append(rels, rel{pkgs[0].ID, "DEPENDS_ON", id})
		}
	}
	add(bi.Main.Path, version)
	add("stdlib", bi.GoVersion)
	for _, d := range bi.Deps {
		if d.Replace != nil {
			d = d.Replace
		}
		add(d.Path, d.Version)
	}
	doc := map[string]any{
		"spdxVersion":       "SPDX-2.3",
		"dataLicense":       "CC0-1.0",
		"SPDXID":            "SPDXRef-DOCUMENT",
		"name":              image + ":" + version + " linux/" + arch,
		"documentNamespace": "https://github.com/zmq-operator/zmq-operator/spdx/" + image + "/" + version + "/linux-" + arch,
		"creationInfo": map[string]any{
			"created":  time.Now().UTC().Format(time.RFC3339),
			"creators": []string{"Tool: zmq-operator test/e2e/cmd/images"},
		},
		"packages":      pkgs,
		"relationships": rels,
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(out, append(b, '\n'), 0o644)
}
