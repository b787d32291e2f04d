// Command metricscheck cross-checks the PromQL of the Grafana dashboards and the Prometheus
// rules against what the services really expose: scrapes of their /metrics endpoints.
//
//	metricscheck -scrapes DIR -prometheus-config FILE -datasources DIR -dashboards DIR -rules GLOB [-rules GLOB ...]
//
// DIR of -scrapes holds one Prometheus text exposition per scrape job, named <job>.prom.
// Every expression (dashboard panel targets, dashboard query variables, alerting and
// recording rules) is parsed with Prometheus' own PromQL parser, Grafana's $variables
// substituted first, and then:
//
//   - every metric name it selects must be a series name in some scrape (histograms as
//     <name>_bucket/_sum/_count), a series Prometheus makes itself (up, scrape_*), or a
//     recording rule's name;
//   - every label it matches on, groups by or joins on must be a label of one of the metrics
//     involved, or a target label (job, instance, static labels of prometheus.yml);
//   - rate(), irate() and increase() may only be applied to counters and histogram or summary
//     series, never to a gauge.
//
// Dashboards must be valid JSON with a uid (unique) and a title, and every datasource they name
// by uid must be provisioned. It exits 1 listing every problem, 0 when there is none.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v3"
)

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// series is what a scrape says about one series name.
type series struct {
	kind   string              // counter, gauge, histogram, summary, untyped
	labels map[string]struct{} // label names seen on it
	jobs   map[string]struct{} // scrape jobs exposing it
}

type checker struct {
	series       map[string]*series
	targetLabels map[string]struct{}
	recorded     map[string]struct{}
	datasources  map[string]struct{}
	parser       parser.Parser
	problems     []string
	expressions  int
	names        map[string]struct{} // metric names referenced, for the summary
}

// Series Prometheus adds to every scrape itself.
var synthetic = []string{
	"up", "scrape_duration_seconds", "scrape_samples_scraped",
	"scrape_samples_post_metric_relabeling", "scrape_series_added",
}

func main() {
	var (
		scrapes     = flag.String("scrapes", "", "directory of <job>.prom scrapes")
		promConfig  = flag.String("prometheus-config", "", "prometheus.yml: target labels")
		datasources = flag.String("datasources", "", "Grafana datasource provisioning directory")
		dashboards  = flag.String("dashboards", "", "Grafana dashboards directory (*.json)")
		rules       multiFlag
	)
	flag.Var(&rules, "rules", "Prometheus rule files (glob; repeatable)")
	flag.Parse()
	if *scrapes == "" || *dashboards == "" || len(rules) == 0 {
		fmt.Fprintln(os.Stderr, "usage: metricscheck -scrapes DIR -prometheus-config FILE -datasources DIR -dashboards DIR -rules GLOB...")
		os.Exit(2)
	}

	c := &checker{
		series:       map[string]*series{},
		targetLabels: map[string]struct{}{"job": {}, "instance": {}},
		recorded:     map[string]struct{}{},
		datasources:  map[string]struct{}{},
		parser:       parser.NewParser(parser.Options{}),
		names:        map[string]struct{}{},
	}
	jobs, err := c.loadScrapes(*scrapes)
	fatal(err)
	if *promConfig != "" {
		fatal(c.loadTargetLabels(*promConfig))
	}
	if *datasources != "" {
		fatal(c.loadDatasources(*datasources))
	}

	var ruleFiles []string
	for _, pattern := range rules {
		matches, err := filepath.Glob(pattern)
		fatal(err)
		if len(matches) == 0 {
			fatal(fmt.Errorf("no rule files match %s", pattern))
		}
		ruleFiles = append(ruleFiles, matches...)
	}
	type ruleExpr struct{ where, expr string }
	var ruleExprs []ruleExpr
	for _, file := range ruleFiles {
		exprs, err := c.loadRules(file)
		fatal(err)
		for _, e := range exprs {
			ruleExprs = append(ruleExprs, ruleExpr{e[0], e[1]})
		}
	}
	// Recording rules first (their names are valid everywhere), then every expression.
	for _, e := range ruleExprs {
		c.checkExpr(e.where, e.expr)
	}
	dashboardFiles, err := filepath.Glob(filepath.Join(*dashboards, "*.json"))
	fatal(err)
	if len(dashboardFiles) == 0 {
		fatal(fmt.Errorf("no dashboards in %s", *dashboards))
	}
	uids := map[string]string{}
	for _, file := range dashboardFiles {
		c.checkDashboard(file, uids)
	}

	names := make([]string, 0, len(c.names))
	for name := range c.names {
		names = append(names, name)
	}
	sort.Strings(names)
	fmt.Printf("metricscheck: %d expressions in %d dashboards and %d rule files, %d metric names, against the scrapes of %s\n",
		c.expressions, len(dashboardFiles), len(ruleFiles), len(names), strings.Join(jobs, ", "))
	if len(c.problems) > 0 {
		for _, p := range c.problems {
			fmt.Println("FAIL " + p)
		}
		fmt.Printf("metricscheck: %d problems\n", len(c.problems))
		os.Exit(1)
	}
	fmt.Printf("metricscheck: ok (%s)\n", strings.Join(names, " "))
}

func fatal(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "metricscheck:", err)
		os.Exit(2)
	}
}

func (c *checker) problem(format string, args ...any) {
	p := fmt.Sprintf(format, args...)
	for _, seen := range c.problems {
		if seen == p {
			return
		}
	}
	c.problems = append(c.problems, p)
}

// ---------------------------------------------------------------------------- inputs

func (c *checker) loadScrapes(dir string) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.prom"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no scrapes (*.prom) in %s", dir)
	}
	var jobs []string
	for _, file := range files {
		job := strings.TrimSuffix(filepath.Base(file), ".prom")
		jobs = append(jobs, job)
		in, err := os.Open(file)
		if err != nil {
			return nil, err
		}
		p := expfmt.NewTextParser(model.UTF8Validation)
		families, err := p.TextToMetricFamilies(in)
		in.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		if len(families) == 0 {
			return nil, fmt.Errorf("%s: no metrics", file)
		}
		for name, family := range families {
			var labelNames []string
			for _, m := range family.GetMetric() {
				for _, l := range m.GetLabel() {
					labelNames = append(labelNames, l.GetName())
				}
			}
			add := func(seriesName, kind string, extra ...string) {
				s := c.series[seriesName]
				if s == nil {
					s = &series{kind: kind, labels: map[string]struct{}{}, jobs: map[string]struct{}{}}
					c.series[seriesName] = s
				}
				for _, l := range append(labelNames, extra...) {
					s.labels[l] = struct{}{}
				}
				s.jobs[job] = struct{}{}
			}
			switch family.GetType() {
			case dto.MetricType_COUNTER:
				add(name, "counter")
			case dto.MetricType_GAUGE:
				add(name, "gauge")
			case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
				add(name+"_bucket", "histogram", "le")
				add(name+"_sum", "histogram")
				add(name+"_count", "histogram")
			case dto.MetricType_SUMMARY:
				add(name, "summary", "quantile")
				add(name+"_sum", "summary")
				add(name+"_count", "summary")
			default:
				add(name, "untyped")
			}
		}
	}
	for _, name := range synthetic {
		if c.series[name] == nil {
			c.series[name] = &series{kind: "gauge", labels: map[string]struct{}{}, jobs: map[string]struct{}{"prometheus": {}}}
		}
	}
	sort.Strings(jobs)
	return jobs, nil
}

func (c *checker) loadTargetLabels(file string) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	var config struct {
		ScrapeConfigs []struct {
			StaticConfigs []struct {
				Labels map[string]string `yaml:"labels"`
			} `yaml:"static_configs"`
			RelabelConfigs []struct {
				TargetLabel string `yaml:"target_label"`
			} `yaml:"relabel_configs"`
		} `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal(data, &config); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	for _, sc := range config.ScrapeConfigs {
		for _, st := range sc.StaticConfigs {
			for l := range st.Labels {
				c.targetLabels[l] = struct{}{}
			}
		}
		for _, r := range sc.RelabelConfigs {
			if r.TargetLabel != "" && !strings.HasPrefix(r.TargetLabel, "__") {
				c.targetLabels[r.TargetLabel] = struct{}{}
			}
		}
	}
	return nil
}

func (c *checker) loadDatasources(dir string) error {
	files, err := filepath.Glob(filepath.Join(dir, "*.y*ml"))
	if err != nil {
		return err
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		var provisioning struct {
			Datasources []struct {
				Name string `yaml:"name"`
				UID  string `yaml:"uid"`
				Type string `yaml:"type"`
				URL  string `yaml:"url"`
			} `yaml:"datasources"`
		}
		if err := yaml.Unmarshal(data, &provisioning); err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		for _, d := range provisioning.Datasources {
			if d.UID == "" || d.Name == "" || d.Type == "" || d.URL == "" {
				c.problem("%s: datasource %q needs name, uid, type and url", file, d.Name)
			}
			c.datasources[d.UID] = struct{}{}
		}
	}
	if len(c.datasources) == 0 {
		return fmt.Errorf("no datasources provisioned in %s", dir)
	}
	return nil
}

// loadRules returns (where, expr) of every rule, after registering recording rule names.
func (c *checker) loadRules(file string) ([][2]string, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var ruleFile struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []struct {
				Alert  string `yaml:"alert"`
				Record string `yaml:"record"`
				Expr   string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(data, &ruleFile); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	var out [][2]string
	for _, g := range ruleFile.Groups {
		for _, r := range g.Rules {
			name := r.Alert
			if r.Record != "" {
				name = r.Record
				c.recorded[r.Record] = struct{}{}
			}
			out = append(out, [2]string{fmt.Sprintf("%s: group %q rule %q", file, g.Name, name), r.Expr})
		}
	}
	return out, nil
}

// ---------------------------------------------------------------------------- dashboards

type panel struct {
	Title      string          `json:"title"`
	Type       string          `json:"type"`
	Datasource json.RawMessage `json:"datasource"`
	Targets    []struct {
		Expr       string          `json:"expr"`
		RefID      string          `json:"refId"`
		Datasource json.RawMessage `json:"datasource"`
	} `json:"targets"`
	Panels []panel `json:"panels"`
}

type dashboard struct {
	UID        string  `json:"uid"`
	Title      string  `json:"title"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name       string          `json:"name"`
			Type       string          `json:"type"`
			Query      json.RawMessage `json:"query"`
			Datasource json.RawMessage `json:"datasource"`
		} `json:"list"`
	} `json:"templating"`
}

func (c *checker) checkDatasource(where string, raw json.RawMessage) {
	if len(raw) == 0 || string(raw) == "null" {
		return
	}
	var ds struct {
		UID string `json:"uid"`
	}
	if json.Unmarshal(raw, &ds) != nil {
		var name string
		if json.Unmarshal(raw, &name) == nil {
			c.problem("%s: datasource by name %q: refer to it by uid", where, name)
		}
		return
	}
	if ds.UID == "" || ds.UID == "-- Grafana --" || ds.UID == "grafana" || strings.HasPrefix(ds.UID, "$") {
		return
	}
	if _, ok := c.datasources[ds.UID]; !ok {
		c.problem("%s: datasource uid %q is not provisioned", where, ds.UID)
	}
}

func (c *checker) checkDashboard(file string, uids map[string]string) {
	data, err := os.ReadFile(file)
	if err != nil {
		c.problem("%s: %v", file, err)
		return
	}
	var d dashboard
	if err := json.Unmarshal(data, &d); err != nil {
		c.problem("%s: not valid dashboard JSON: %v", file, err)
		return
	}
	if d.UID == "" || d.Title == "" {
		c.problem("%s: a dashboard needs a uid and a title", file)
	}
	if other, ok := uids[d.UID]; ok {
		c.problem("%s: uid %q is also the uid of %s", file, d.UID, other)
	}
	uids[d.UID] = file
	if len(d.Panels) == 0 {
		c.problem("%s: no panels", file)
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		where := fmt.Sprintf("%s: variable %q", file, v.Name)
		c.checkDatasource(where, v.Datasource)
		var query string
		if json.Unmarshal(v.Query, &query) != nil {
			var q struct {
				Query string `json:"query"`
			}
			_ = json.Unmarshal(v.Query, &q)
			query = q.Query
		}
		c.checkVariableQuery(where, query)
	}
	var walk func(panels []panel)
	walk = func(panels []panel) {
		for _, p := range panels {
			where := fmt.Sprintf("%s: panel %q", file, p.Title)
			if p.Type != "row" && p.Title == "" {
				c.problem("%s: a panel without a title", file)
			}
			c.checkDatasource(where, p.Datasource)
			if p.Type != "row" && p.Type != "text" && len(p.Targets) == 0 {
				c.problem("%s: no queries", where)
			}
			for _, t := range p.Targets {
				c.checkDatasource(where, t.Datasource)
				if strings.TrimSpace(t.Expr) == "" {
					c.problem("%s: target %s has no expr", where, t.RefID)
					continue
				}
				c.checkExpr(fmt.Sprintf("%s target %s", where, t.RefID), t.Expr)
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
}

var labelValuesQuery = regexp.MustCompile(`^\s*label_values\(\s*(.*?)\s*,\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$`)
var queryResultQuery = regexp.MustCompile(`^\s*query_result\((.*)\)\s*$`)

// Grafana's Prometheus variable queries: label_values(selector, label), query_result(expr).
func (c *checker) checkVariableQuery(where, query string) {
	if m := labelValuesQuery.FindStringSubmatch(query); m != nil {
		c.checkExpr(where, m[1])
		c.checkLabelsOf(where, m[1], m[2])
		return
	}
	if m := queryResultQuery.FindStringSubmatch(query); m != nil {
		c.checkExpr(where, m[1])
		return
	}
	if strings.TrimSpace(query) != "" {
		c.problem("%s: cannot check variable query %q (use label_values or query_result)", where, query)
	}
}

// checkLabelsOf: label must be a label of the metrics the selector selects.
func (c *checker) checkLabelsOf(where, selector, label string) {
	expr, err := c.parser.ParseExpr(substitute(selector))
	if err != nil {
		return // reported by checkExpr
	}
	allowed, known := c.labelsIn(expr)
	if known && !has(allowed, label) && !has(c.targetLabels, label) {
		c.problem("%s: label %q is not a label of %s", where, label, selector)
	}
}

// ---------------------------------------------------------------------------- PromQL

// Grafana's built-in range variables become a duration, other variables a plain value: the
// templated parts are label values, so any value keeps the expression's structure.
var (
	rangeVariable = regexp.MustCompile(`\$\{?__(rate_interval|interval|range)(_ms|_s)?\}?`)
	otherVariable = regexp.MustCompile(`\$\{[a-zA-Z0-9_]+(:[a-z]+)?\}|\$[a-zA-Z_][a-zA-Z0-9_]*`)
)

func substitute(expr string) string {
	expr = rangeVariable.ReplaceAllString(expr, "5m")
	return otherVariable.ReplaceAllString(expr, "value")
}

func has(set map[string]struct{}, key string) bool { _, ok := set[key]; return ok }

func metricName(vs *parser.VectorSelector) string {
	if vs.Name != "" {
		return vs.Name
	}
	for _, m := range vs.LabelMatchers {
		if m.Name == labels.MetricName && m.Type == labels.MatchEqual {
			return m.Value
		}
	}
	return ""
}

func (c *checker) known(name string) bool {
	return c.series[name] != nil || has(c.recorded, name)
}

// labelsIn: the labels of every metric selected in node, and whether all of them are known.
func (c *checker) labelsIn(node parser.Node) (map[string]struct{}, bool) {
	out := map[string]struct{}{}
	allKnown := true
	parser.Inspect(node, func(n parser.Node, _ []parser.Node) error {
		switch n := n.(type) {
		case *parser.VectorSelector:
			name := metricName(n)
			if s := c.series[name]; s != nil {
				for l := range s.labels {
					out[l] = struct{}{}
				}
			} else {
				allKnown = false
			}
		case *parser.Call:
			// label_replace(v, "dst", ...) and label_join(v, "dst", ...) add a label.
			if (n.Func.Name == "label_replace" || n.Func.Name == "label_join") && len(n.Args) > 1 {
				if s, ok := n.Args[1].(*parser.StringLiteral); ok {
					out[s.Val] = struct{}{}
				}
			}
		}
		return nil
	})
	return out, allKnown
}

func (c *checker) checkExpr(where, expr string) {
	c.expressions++
	parsed, err := c.parser.ParseExpr(substitute(expr))
	if err != nil {
		c.problem("%s: PromQL does not parse: %v\n    %s", where, err, strings.TrimSpace(expr))
		return
	}
	parser.Inspect(parsed, func(n parser.Node, _ []parser.Node) error {
		switch n := n.(type) {
		case *parser.VectorSelector:
			name := metricName(n)
			if name == "" {
				c.problem("%s: a selector without a metric name: %s", where, n)
				return nil
			}
			c.names[name] = struct{}{}
			if !c.known(name) {
				c.problem("%s: metric %q is in no scrape (nor made by Prometheus or a recording rule)", where, name)
				return nil
			}
			s := c.series[name]
			if s == nil {
				return nil // a recording rule
			}
			for _, m := range n.LabelMatchers {
				if m.Name == labels.MetricName {
					continue
				}
				absent := (m.Type == labels.MatchEqual && m.Value == "") || (m.Type == labels.MatchNotRegexp && m.Value == ".+")
				if !absent && !has(s.labels, m.Name) && !has(c.targetLabels, m.Name) {
					c.problem("%s: metric %q has no label %q", where, name, m.Name)
				}
			}
		case *parser.Call:
			switch n.Func.Name {
			case "rate", "irate", "increase":
				if ms, ok := n.Args[0].(*parser.MatrixSelector); ok {
					if vs, ok := ms.VectorSelector.(*parser.VectorSelector); ok {
						if s := c.series[metricName(vs)]; s != nil && s.kind == "gauge" {
							c.problem("%s: %s() of gauge %q (use it as it is, or deriv/delta)", where, n.Func.Name, metricName(vs))
						}
					}
				}
			}
		case *parser.AggregateExpr:
			if n.Without || len(n.Grouping) == 0 {
				return nil
			}
			allowed, known := c.labelsIn(n.Expr)
			if !known {
				return nil
			}
			for _, l := range n.Grouping {
				if !has(allowed, l) && !has(c.targetLabels, l) {
					c.problem("%s: %s by (%s): no metric inside has label %q", where, n.Op, strings.Join(n.Grouping, ", "), l)
				}
			}
		case *parser.BinaryExpr:
			if n.VectorMatching == nil || len(n.VectorMatching.MatchingLabels) == 0 || !n.VectorMatching.On {
				return nil
			}
			for i, side := range []parser.Node{n.LHS, n.RHS} {
				allowed, known := c.labelsIn(side)
				if !known {
					continue
				}
				for _, l := range n.VectorMatching.MatchingLabels {
					if !has(allowed, l) && !has(c.targetLabels, l) {
						c.problem("%s: on(%s): label %q is not on the metrics of the %s side", where,
							strings.Join(n.VectorMatching.MatchingLabels, ", "), l, []string{"left", "right"}[i])
					}
				}
			}
		}
		return nil
	})
}
