// Package storageguardextension wraps a storage extension (file_storage) so
// that a persistent sending queue loses nothing it accepted when its storage
// fails to write (a full disk, file_storage's max_size, an I/O error), and
// counts and logs every failed write.
//
// At v0.159.0 exporterhelper's persistent queue reads an item in one storage
// transaction together with its own bookkeeping (the metadata key "qmv0",
// whose read index it has already advanced in memory). When that transaction
// fails — bbolt must write the metadata, and on a full disk it cannot — the
// queue skips the item: it is never sent, stays on disk under an index the
// queue has passed, and nothing counts it (the log line is at debug level).
// That is where accepted spans disappeared on a full filesystem. The guard
// reads such an item again without the write and hands it to the queue, so
// it is sent; the queue's metadata on disk is then one read behind until its
// next successful write (a crash in between sends that item again: a
// duplicate, never a loss).
package storageguardextension // import "github.com/otelcol-tiered/otelcol-tiered/extension/storageguardextension"

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/otelcol-tiered/otelcol-tiered/extension/storageguardextension/internal/metadata"
)

// queueMetadataKey is the key under which exporterhelper's persistent queue
// (v0.159.0, "qmv0") keeps its indexes; every other key it writes is an item.
const queueMetadataKey = "qmv0"

// operation is what the persistent queue was doing in a transaction.
type operation int

const (
	opOther operation = iota
	opEnqueue
	opDispatch
	opDelete
	numOps
)

var opName = [numOps]string{opOther: "other", opEnqueue: "enqueue", opDispatch: "dispatch", opDelete: "delete"}

// opAttrs are the metric attributes of each operation, built once.
var opAttrs = func() (a [numOps]metric.MeasurementOption) {
	for op, name := range opName {
		a[op] = metric.WithAttributeSet(attribute.NewSet(attribute.String("operation", name)))
	}
	return a
}()

// classify names what a batch of the persistent queue does, by its shape:
// enqueue = the metadata and a new item set; dispatch = the metadata set and
// an item read; delete = an item deleted (with or without the metadata).
func classify(ops []*storage.Operation) operation {
	var setItem, getItem, delItem bool
	for _, op := range ops {
		if op == nil || op.Key == queueMetadataKey {
			continue
		}
		switch op.Type {
		case storage.Set:
			setItem = true
		case storage.Get:
			getItem = true
		case storage.Delete:
			delItem = true
		}
	}
	switch {
	case setItem:
		return opEnqueue
	case getItem:
		return opDispatch
	case delItem:
		return opDelete
	default:
		return opOther
	}
}

// dispatchItem returns the item read of a dispatch batch (the metadata set,
// then one item read), or nil when ops is not exactly that.
func dispatchItem(ops []*storage.Operation) *storage.Operation {
	if len(ops) != 2 || ops[0] == nil || ops[1] == nil {
		return nil
	}
	if ops[0].Type != storage.Set || ops[0].Key != queueMetadataKey {
		return nil
	}
	if ops[1].Type != storage.Get || ops[1].Key == queueMetadataKey {
		return nil
	}
	return ops[1]
}

type guard struct {
	cfg       *Config
	logger    *zap.Logger
	telemetry *metadata.TelemetryBuilder
	inner     storage.Extension

	// mu guards pending and the log state; nothing is called under it.
	mu      sync.Mutex
	pending map[*client]map[string]struct{}
	logged  [numOps]time.Time
	unseen  [numOps]int64
}

var (
	_ storage.Extension = (*guard)(nil)
)

func newGuard(set extension.Settings, cfg *Config) (*guard, error) {
	g := &guard{cfg: cfg, logger: set.Logger, pending: map[*client]map[string]struct{}{}}
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	if err := tb.RegisterExtensionStorageguardDeletesPendingCallback(g.pendingDeletes); err != nil {
		return nil, err
	}
	g.telemetry = tb
	return g, nil
}

// Dependencies makes the collector start the wrapped storage first.
func (g *guard) Dependencies() []component.ID { return []component.ID{g.cfg.Storage} }

func (g *guard) Start(_ context.Context, host component.Host) error {
	ext, ok := host.GetExtensions()[g.cfg.Storage]
	if !ok {
		return fmt.Errorf("storage: no extension %q in service::extensions", g.cfg.Storage)
	}
	inner, ok := ext.(storage.Extension)
	if !ok {
		return fmt.Errorf("storage: extension %q is not a storage extension", g.cfg.Storage)
	}
	if _, self := ext.(*guard); self {
		return fmt.Errorf("storage: extension %q is a storageguard; name the storage it guards", g.cfg.Storage)
	}
	g.inner = inner
	return nil
}

func (g *guard) Shutdown(context.Context) error {
	g.telemetry.Shutdown()
	return nil
}

// GetClient returns the wrapped storage's client for that component, guarded.
func (g *guard) GetClient(ctx context.Context, kind component.Kind, id component.ID, name string) (storage.Client, error) {
	if g.inner == nil {
		return nil, fmt.Errorf("storageguard: not started (storage %q)", g.cfg.Storage)
	}
	c, err := g.inner.GetClient(ctx, kind, id, name)
	if err != nil {
		return nil, err
	}
	owner := id.String()
	if name != "" {
		owner += "/" + name
	}
	return &client{inner: c, guard: g, owner: owner}, nil
}

func (g *guard) pendingDeletes(_ context.Context, o metric.Int64Observer) error {
	g.mu.Lock()
	n := 0
	for _, keys := range g.pending {
		n += len(keys)
	}
	g.mu.Unlock()
	o.Observe(int64(n))
	return nil
}

// failed counts a failed transaction and logs it, at most once per kind per
// log_interval (with the number not logged since).
func (g *guard) failed(ctx context.Context, c *client, op operation, err error, recovered bool) {
	g.telemetry.ExtensionStorageguardWriteFailures.Add(ctx, 1, opAttrs[op])
	if recovered {
		g.telemetry.ExtensionStorageguardDispatchRecovered.Add(ctx, 1)
	}
	now := time.Now()
	g.mu.Lock()
	if now.Sub(g.logged[op]) < g.cfg.LogInterval {
		g.unseen[op]++
		g.mu.Unlock()
		return
	}
	g.logged[op] = now
	unseen := g.unseen[op]
	g.unseen[op] = 0
	g.mu.Unlock()

	fields := []zap.Field{zap.String("queue", c.owner), zap.String("operation", opName[op]),
		zap.Error(err), zap.Int64("failures_not_logged", unseen)}
	switch {
	case op == opEnqueue:
		g.logger.Error("Persistent queue could not store a request: it is refused, the exporter counts its items in otelcol_exporter_enqueue_failed_*", fields...)
	case recovered:
		g.logger.Warn("Persistent queue could not record a read on disk: the item is sent anyway (upstream would skip it); a crash before the next successful write sends it again", fields...)
	case op == opDispatch:
		g.logger.Warn("Persistent queue could not read an item that was never stored (a refused enqueue); skipped", fields...)
	case op == opDelete:
		g.logger.Warn("Persistent queue could not delete a delivered item: its space stays used until a later transaction succeeds, then it is deleted again", fields...)
	default:
		g.logger.Warn("Persistent queue storage transaction failed", fields...)
	}
}

type client struct {
	inner storage.Client
	guard *guard
	owner string
}

var (
	_ storage.Client = (*client)(nil)
	_ storage.Walker = (*client)(nil)
)

func (c *client) Get(ctx context.Context, key string) ([]byte, error) {
	op := storage.GetOperation(key)
	if err := c.Batch(ctx, op); err != nil {
		return nil, err
	}
	return op.Value, nil
}

func (c *client) Set(ctx context.Context, key string, value []byte) error {
	return c.Batch(ctx, storage.SetOperation(key, value))
}

func (c *client) Delete(ctx context.Context, key string) error {
	return c.Batch(ctx, storage.DeleteOperation(key))
}

// Batch runs the operations in the wrapped storage. On failure it counts and
// logs; a failed dispatch whose item can be read is handed to the queue
// (nil error); a failed delete is remembered and tried again after the next
// successful transaction.
func (c *client) Batch(ctx context.Context, ops ...*storage.Operation) error {
	err := c.inner.Batch(ctx, ops...)
	if err == nil {
		c.retryDeletes(ctx)
		return nil
	}
	op := classify(ops)
	if op == opDelete {
		c.addPending(ops)
	}
	if item := dispatchItem(ops); item != nil {
		if item.Value == nil {
			// The transaction failed before (or without) the read:
			// read alone, which writes nothing bbolt must allocate.
			get := storage.GetOperation(item.Key)
			if c.inner.Batch(ctx, get) == nil {
				item.Value = get.Value
			}
		}
		if item.Value != nil {
			c.guard.failed(ctx, c, op, err, true)
			return nil
		}
	}
	c.guard.failed(ctx, c, op, err, false)
	return err
}

func (c *client) addPending(ops []*storage.Operation) {
	c.guard.mu.Lock()
	defer c.guard.mu.Unlock()
	keys := c.guard.pending[c]
	if keys == nil {
		keys = map[string]struct{}{}
		c.guard.pending[c] = keys
	}
	for _, op := range ops {
		if op != nil && op.Type == storage.Delete && op.Key != queueMetadataKey {
			keys[op.Key] = struct{}{}
		}
	}
}

// retryDeletes deletes again the items whose delete failed, once storage
// writes succeed again. Item keys are never reused while the queue runs (its
// write index only grows), so a late delete cannot hit a newer item.
func (c *client) retryDeletes(ctx context.Context) {
	c.guard.mu.Lock()
	keys := c.guard.pending[c]
	if len(keys) == 0 {
		c.guard.mu.Unlock()
		return
	}
	ops := make([]*storage.Operation, 0, len(keys))
	for k := range keys {
		ops = append(ops, storage.DeleteOperation(k))
	}
	c.guard.mu.Unlock()
	if err := c.inner.Batch(ctx, ops...); err != nil {
		return
	}
	c.guard.mu.Lock()
	for _, op := range ops {
		delete(keys, op.Key)
	}
	c.guard.mu.Unlock()
	c.guard.logger.Info("Deleted delivered queue items whose delete had failed", zap.String("queue", c.owner), zap.Int("items", len(ops)))
}

// Walk passes through to the wrapped client when it can walk.
func (c *client) Walk(ctx context.Context, fn storage.WalkFunc) error {
	w, ok := c.inner.(storage.Walker)
	if !ok {
		return errors.New("storageguard: the wrapped storage cannot walk")
	}
	return w.Walk(ctx, fn)
}

func (c *client) Close(ctx context.Context) error {
	c.retryDeletes(ctx)
	c.guard.mu.Lock()
	delete(c.guard.pending, c)
	c.guard.mu.Unlock()
	return c.inner.Close(ctx)
}
