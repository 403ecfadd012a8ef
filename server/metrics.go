package server

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/imagegen/imagegen/jobqueue"
)

// metrics are the server's Prometheus collectors, on a registry of its
// own so that two servers in one process keep separate counts.
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	jobs     *prometheus.CounterVec
	wait     prometheus.Histogram
	run      prometheus.Histogram
}

func newMetrics(reg *prometheus.Registry, q jobqueue.Queue, loaded func() []string) *metrics {
	if reg == nil {
		reg = prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	m := &metrics{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "imagegen_http_requests_total", Help: "HTTP requests by route and status code.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "imagegen_http_request_duration_seconds", Help: "HTTP request duration by route.",
			Buckets: []float64{.001, .005, .025, .1, .5, 1, 2.5, 5, 10, 30, 60, 300},
		}, []string{"route"}),
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "imagegen_sync_jobs_finished_total", Help: "Jobs of synchronous requests (OpenAI, AUTOMATIC1111) that finished, by final state.",
		}, []string{"state"}),
	}
	jobBuckets := []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600}
	m.wait = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "imagegen_sync_job_wait_seconds", Help: "Queue wait of synchronous requests' jobs.", Buckets: jobBuckets})
	m.run = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "imagegen_sync_job_run_seconds", Help: "Run time of synchronous requests' jobs.", Buckets: jobBuckets})
	reg.MustRegister(m.requests, m.duration, m.jobs, m.wait, m.run,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "imagegen_queue_waiting", Help: "Jobs waiting to run."},
			func() float64 { return float64(q.Stats().Waiting) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "imagegen_queue_running", Help: "Jobs running."},
			func() float64 { return float64(q.Stats().Running) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "imagegen_queue_max_waiting", Help: "The queue's bound on waiting jobs."},
			func() float64 { return float64(q.Stats().MaxWaiting) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "imagegen_models_loaded", Help: "Models held in memory."},
			func() float64 { return float64(len(loaded())) }),
	)
	return m
}

func (m *metrics) observe(route string, status int, d time.Duration) {
	m.requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(route).Observe(d.Seconds())
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}
