// Go oracle for the differential tests of core/template: renders a corpus of Go text/template +
// sprig v3 cases with the real Go implementation. Test tooling only (see docs/development.md).
//
//	gotemplate-oracle < cases.json > results.json
//	gotemplate-oracle -bench N < bench.json   (renders/s of each template, parsed once)
//
// Input: {"cases":[{"name","template","data"(JSON text),"funcs":"sprig"|"exectest"}]}.
// Output: [{"output":...}|{"error":...}] in the same order.
// Data is decoded like Kubernetes' unstructured decoding: integer literals become int64,
// other numbers float64.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/template"
	"time"

	"github.com/Masterminds/sprig/v3"
)

type testCase struct {
	Name     string `json:"name"`
	Template string `json:"template"`
	Data     string `json:"data"`
	Funcs    string `json:"funcs"`
}

type result struct {
	Output *string `json:"output,omitempty"`
	Error  *string `json:"error,omitempty"`
}

// decodeData decodes JSON with int64 for integer literals and float64 otherwise.
func decodeData(text string) (any, error) {
	if strings.TrimSpace(text) == "" {
		return nil, nil
	}
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return convertNumbers(v), nil
}

func convertNumbers(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = convertNumbers(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = convertNumbers(e)
		}
		return x
	case json.Number:
		s := string(x)
		if !strings.ContainsAny(s, ".eE") {
			if i, err := x.Int64(); err == nil {
				return i
			}
		}
		f, _ := x.Float64()
		return f
	}
	return v
}

// required is Helm's `required`, which the connectors engine also provides.
func required(warn string, val any) (any, error) {
	if val == nil {
		return val, errors.New(warn)
	} else if _, ok := val.(string); ok {
		if val == "" {
			return val, errors.New(warn)
		}
	}
	return val, nil
}

func sprigFuncs() template.FuncMap {
	m := sprig.TxtFuncMap()
	m["required"] = required
	// Functions that reach the operating system or the network are disabled in connectors.
	m["env"] = func(string) (string, error) { return "", errors.New("env is disabled: templates cannot read the environment") }
	m["expandenv"] = func(string) (string, error) {
		return "", errors.New("expandenv is disabled: templates cannot read the environment")
	}
	m["getHostByName"] = func(string) (string, error) {
		return "", errors.New("getHostByName is disabled: templates cannot use the network")
	}
	return m
}

// The helper functions of Go's own text/template exec_test.go that JSON-shaped data can use.
func execTestFuncs() template.FuncMap {
	return template.FuncMap{
		"add": func(args ...int) int {
			sum := 0
			for _, x := range args {
				sum += x
			}
			return sum
		},
		"dddArg":      func(a int, b ...string) string { return fmt.Sprintln(a, b) },
		"die":         func() bool { panic("die") },
		"echo":        func(arg any) any { return arg },
		"makemap":     makemap,
		"mapOfThree":  func() any { return map[string]int{"three": 3} },
		"oneArg":      func(a string) string { return "oneArg=" + a },
		"returnInt":   func() int { return 7 },
		"twoArgs":     func(a, b string) string { return "twoArgs=" + a + b },
		"typeOf":      func(arg any) string { return fmt.Sprintf("%T", arg) },
		"valueString": func(v string) string { return "value is ignored" },
		"zeroArgs":    func() string { return "zeroArgs" },
	}
}

func makemap(arg ...string) map[string]string {
	if len(arg)%2 != 0 {
		panic("bad makemap")
	}
	m := make(map[string]string)
	for i := 0; i < len(arg); i += 2 {
		m[arg[i]] = arg[i+1]
	}
	return m
}

func funcsFor(kind string) template.FuncMap {
	if kind == "exectest" {
		return execTestFuncs()
	}
	return sprigFuncs()
}

func render(c testCase) (out string, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	name := c.Name
	if name == "" {
		name = "tpl"
	}
	tpl, err := template.New(name).Funcs(funcsFor(c.Funcs)).Parse(c.Template)
	if err != nil {
		return "", err
	}
	data, err := decodeData(c.Data)
	if err != nil {
		return "", fmt.Errorf("bad data: %w", err)
	}
	var buf bytes.Buffer
	err = tpl.Execute(&buf, data)
	if err != nil {
		return "", err
	}
	return buf.String(), nil
}

func main() {
	bench := flag.Int("bench", 0, "time N executions of each case and print renders/s")
	flag.Parse()
	in, err := io.ReadAll(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var input struct {
		Cases []testCase `json:"cases"`
	}
	if err := json.Unmarshal(in, &input); err != nil {
		fmt.Fprintln(os.Stderr, "bad input:", err)
		os.Exit(2)
	}
	if *bench > 0 {
		runBench(input.Cases, *bench)
		return
	}
	results := make([]result, len(input.Cases))
	for i, c := range input.Cases {
		out, err := render(c)
		if err != nil {
			msg := err.Error()
			results[i].Error = &msg
		} else {
			results[i].Output = &out
		}
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(results); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
}

type benchResult struct {
	Name          string  `json:"name"`
	N             int     `json:"n"`
	Seconds       float64 `json:"seconds"`
	RendersPerSec float64 `json:"rendersPerSec"`
	Output        string  `json:"output"`
}

func runBench(cases []testCase, n int) {
	var results []benchResult
	for _, c := range cases {
		tpl, err := template.New(c.Name).Funcs(funcsFor(c.Funcs)).Parse(c.Template)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		data, err := decodeData(c.Data)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		var buf bytes.Buffer
		// Warm up, then time n executions into a reused buffer.
		for i := 0; i < n/10+1; i++ {
			buf.Reset()
			if err := tpl.Execute(&buf, data); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
		}
		start := time.Now()
		var sb strings.Builder
		for i := 0; i < n; i++ {
			buf.Reset()
			_ = tpl.Execute(&buf, data)
			_ = buf.String() // the TS side produces a string per render too
		}
		elapsed := time.Since(start).Seconds()
		sb.WriteString(buf.String())
		results = append(results, benchResult{Name: c.Name, N: n, Seconds: elapsed, RendersPerSec: float64(n) / elapsed, Output: sb.String()})
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(results)
}
