package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// The environment variables each service reads, and where (relative to the repository root).
// Every key a manifest gives a service's container must be here (or be a helper that only
// composes another value through $(VAR)); TestEnvTableMatchesSource keeps the table honest by
// finding each name in the source it is listed under, and reports names the source reads that
// the table lacks.
type envGroup struct {
	dirs  []string // where the names are read ("" for the Node runtime itself)
	names []string
}

var (
	kitEnv = envGroup{[]string{"libs/server/src", "libs/metrics/src"}, []string{
		"HOST", "PORT", "ADMIN_PORT", "LOG_LEVEL", "BODY_LIMIT", "REQUEST_TIMEOUT", "KEEP_ALIVE_TIMEOUT", "HEADERS_TIMEOUT",
		"SHUTDOWN_DRAIN_DELAY", "SHUTDOWN_TIMEOUT",
		"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_SDK_DISABLED",
		"OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_TRACES_SAMPLER_ARG",
	}}
	databaseEnv = envGroup{[]string{"libs/pool/src/Database.ts"}, []string{
		"DATABASE_URL", "DB_POOL_MAX", "DB_POOL_MIN", "DB_CONNECT_TIMEOUT", "DB_IDLE_TIMEOUT", "DB_MAX_LIFETIME",
		"DB_STATEMENT_TIMEOUT", "DB_APPLICATION_NAME", "DB_READY_TIMEOUT", "DB_POOL_METRICS_INTERVAL",
	}}
	httpClientEnv = envGroup{[]string{"libs/pool/src/ServiceClient.ts"}, []string{
		"HTTP_CLIENT_MAX_CONNECTIONS", "HTTP_CLIENT_IDLE_TIMEOUT", "HTTP_CLIENT_TIMEOUT",
	}}
	// A downstream's breaker, the same names in every service (its <NAME>_TIMEOUT is listed with
	// the service, whose Settings.ts names the downstream).
	breakerEnv = envGroup{[]string{"libs/resilience/src/Downstream.ts"}, []string{
		"CIRCUIT_BREAKER_FAILURES", "CIRCUIT_BREAKER_OPEN_DURATION",
	}}
	// Read by Node itself, not by the service's code.
	nodeEnv = envGroup{nil, []string{"NODE_OPTIONS", "NODE_EXTRA_CA_CERTS"}}
)

var serviceEnv = map[string][]envGroup{
	"gateway": {kitEnv, httpClientEnv, breakerEnv, nodeEnv, {[]string{"apps/gateway/src", "libs/resilience/src/Downstream.ts"}, []string{
		"INVENTORY_URL", "INVENTORY_TIMEOUT", "ORDER_URL", "ORDER_TIMEOUT", "DOWNSTREAM_MAX_CONCURRENT", "REDIS_URL",
		"JWT_SECRET", "JWT_JWKS_URL", "JWT_ISSUER", "JWT_AUDIENCE", "JWT_CLOCK_SKEW", "JWT_JWKS_COOLDOWN",
		"JWT_JWKS_CACHE_MAX_AGE", "JWT_JWKS_TIMEOUT", "JWT_CACHE_TTL",
		"MAX_IN_FLIGHT", "RATE_LIMIT_PER_SECOND", "RATE_LIMIT_BURST", "ROUTE_TIMEOUT_READ", "ROUTE_TIMEOUT_WRITE",
		"HSTS_MAX_AGE", "CORS_ORIGINS",
	}}},
	"order": {kitEnv, databaseEnv, httpClientEnv, breakerEnv, nodeEnv, {[]string{"apps/order/src", "libs/resilience/src/Downstream.ts"}, []string{
		"INVENTORY_URL", "PAYMENT_URL", "INVENTORY_TIMEOUT", "PAYMENT_TIMEOUT",
		"ORDER_RESULT_WAIT", "ORDER_RESULT_POLL", "CANCELLATION_WINDOW",
		"IDEMPOTENCY_TTL", "IDEMPOTENCY_LEASE", "IDEMPOTENCY_SWEEP_INTERVAL", "IDEMPOTENCY_SWEEP_BATCH",
		"OUTBOX_MAX_IN_FLIGHT", "OUTBOX_CLAIM_BATCH", "OUTBOX_LEASE", "OUTBOX_POLL_INTERVAL", "OUTBOX_MAX_ATTEMPTS", "OUTBOX_BACKOFF_BASE",
		"OUTBOX_BACKOFF_MAX", "OUTBOX_RETENTION",
	}}},
	"inventory": {kitEnv, databaseEnv, nodeEnv, {[]string{"apps/inventory/src"}, []string{
		"RESERVATION_TTL", "RESERVATION_SWEEP_INTERVAL", "RESERVATION_SWEEP_BATCH", "SEED_DEMO_DATA",
	}}},
	"payment": {kitEnv, databaseEnv, breakerEnv, nodeEnv, {[]string{"apps/payment/src", "libs/resilience/src/Downstream.ts"}, []string{
		"PENDING_TIMEOUT", "IN_FLIGHT_WAIT", "PROCESSOR_TIMEOUT",
		"PROCESSOR_LATENCY", "PROCESSOR_JITTER", "PROCESSOR_ERROR_RATE", "PROCESSOR_AMOUNT_LIMIT",
	}}},
}

// defaultPorts are the services' default PORT values (README.md "Service settings").
var defaultPorts = map[string]int32{"gateway": 8080, "order": 8081, "inventory": 8082, "payment": 8083}

// knownEnv returns the variables a service reads, or nil for an unknown service.
func knownEnv(service string) map[string]bool {
	groups, ok := serviceEnv[service]
	if !ok {
		return nil
	}
	names := map[string]bool{}
	for _, g := range groups {
		for _, n := range g.names {
			names[n] = true
		}
	}
	return names
}

// sourceFiles returns the non-test TypeScript files below dir (or dir itself, if a file).
func sourceFiles(root, dir string) (map[string]string, error) {
	files := map[string]string{}
	err := filepath.WalkDir(filepath.Join(root, dir), func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(path, ".ts") || strings.HasSuffix(path, ".test.ts") {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files[path] = string(data)
		return nil
	})
	return files, err
}

// readsName reports whether the source reads the variable: its name as a string literal, or a
// template `${prefix}_SUFFIX` together with the literal "PREFIX" (the gateway's downstreams).
func readsName(text, name string) bool {
	for _, quote := range []string{`"`, "'", "`"} {
		if strings.Contains(text, quote+name+quote) {
			return true
		}
	}
	for i := strings.Index(name, "_"); i > 0; i = nextUnderscore(name, i) {
		prefix, suffix := name[:i], name[i:]
		if strings.Contains(text, `"`+prefix+`"`) && regexp.MustCompile("`\\$\\{\\w+\\}"+regexp.QuoteMeta(suffix)+"`").MatchString(text) {
			return true
		}
	}
	return false
}

func nextUnderscore(name string, after int) int {
	j := strings.Index(name[after+1:], "_")
	if j < 0 {
		return -1
	}
	return after + 1 + j
}

// configNamePattern finds string literals that look like environment variable names read
// through Config: upper case with at least one underscore, as the first argument of a call.
var configNamePattern = regexp.MustCompile(`\(\s*"([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)"`)

// checkEnvTable compares the table with the source under root. Missing names (listed but not
// read where listed) are errors; names read but not listed are returned as warnings.
func checkEnvTable(root string) (errs []string, warnings []string) {
	for _, service := range sortedKeys(serviceEnv) {
		listed := knownEnv(service)
		seen := map[string]bool{}
		for _, group := range serviceEnv[service] {
			if group.dirs == nil {
				continue
			}
			var text strings.Builder
			for _, dir := range group.dirs {
				files, err := sourceFiles(root, dir)
				if err != nil {
					errs = append(errs, fmt.Sprintf("%s: %v", dir, err))
					continue
				}
				for _, path := range sortedKeys(files) {
					text.WriteString(files[path])
					for _, m := range configNamePattern.FindAllStringSubmatch(withoutComments(files[path]), -1) {
						if !listed[m[1]] && !seen[service+m[1]] {
							seen[service+m[1]] = true
							rel, _ := filepath.Rel(root, path)
							warnings = append(warnings, fmt.Sprintf("%s: %s reads %s, which the env table does not list", service, rel, m[1]))
						}
					}
				}
			}
			for _, name := range group.names {
				if !readsName(text.String(), name) {
					errs = append(errs, fmt.Sprintf("%s: %s is in the env table but not read in %s", service, name, strings.Join(group.dirs, ", ")))
				}
			}
		}
	}
	return errs, warnings
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// withoutComments drops comment lines (doc comments mention variables in examples).
func withoutComments(text string) string {
	var lines []string
	for _, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "//") || strings.HasPrefix(trimmed, "*") || strings.HasPrefix(trimmed, "/*") {
			continue
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
}
