package tierrules // import "github.com/otelcol-tiered/otelcol-tiered/internal/tierrules"

import (
	"fmt"
	"sort"
	"strings"
)

// TypeStorageGuard wraps a storage extension for persistent queues.
const TypeStorageGuard = "storageguard"

// QueueVolumeFactor is the volume a persistent queue bounded in bytes may take
// per byte of its queue_size: bbolt's pages, its copy-on-write and the free
// pages a fragmented file keeps. Measured 1.20 for a queue filled once and up
// to 1.67 for one filled, half drained and filled again with requests of 1 to
// 2,000 spans (extension/storageguardextension's
// TestQueueFileStaysWithinTheVolumeFactor, which holds at 1.5 on its seed);
// 2 leaves a margin.
const QueueVolumeFactor = 2.0

// VolumeUsable is the share of a volume the queues may plan on: the
// filesystem keeps the rest (ext4 reserves 5 % for root, and its metadata).
const VolumeUsable = 0.9

func init() { rules = append(rules, queueRules...) }

// persistentQueue is one exporter's queue on disk, for one signal.
type persistentQueue struct {
	exporter ComponentID
	signal   string
	storage  string
	sizer    string
	size     int64
}

// persistentQueues lists every persistent sending queue: one per exporter and
// signal of the pipelines it is in (exporterhelper keeps one queue, one bbolt
// file, per signal, each bounded by queue_size).
func (c *Config) persistentQueues() []persistentQueue {
	seen := map[string]bool{}
	var out []persistentQueue
	for _, p := range c.Pipelines {
		for _, id := range p.Exporters {
			q, ok := asMap(c.Exporters[id]["sending_queue"])
			if !ok || q["storage"] == nil {
				continue
			}
			key := string(id) + "|" + p.Signal()
			if seen[key] {
				continue
			}
			seen[key] = true
			size := int64(queueSize)
			if n, ok := intOf(q["queue_size"]); ok {
				size = n
			}
			sizer, _ := q["sizer"].(string)
			out = append(out, persistentQueue{exporter: id, signal: p.Signal(), storage: fmt.Sprint(q["storage"]), sizer: orDefault(sizer, "requests"), size: size})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].exporter != out[j].exporter {
			return out[i].exporter < out[j].exporter
		}
		return out[i].signal < out[j].signal
	})
	return out
}

var queueRules = []Rule{
	{
		ID:       "persistent-queue-exceeds-volume",
		Severity: SeverityError,
		Roles:    allRoles,
		Needs:    "queue_volume",
		Summary:  "The persistent sending queues, full, need more than their volume holds: the disk fills before the queues do.",
		Why: "A queue bounded below its volume refuses a request when it is full, counted in " +
			"otelcol_exporter_enqueue_failed_* and logged, and touches no storage. A disk that fills first fails " +
			"the storage's writes instead: at v0.159.0 upstream's queue then skips items it had accepted " +
			"(storageguard recovers them), and stops freeing space. Each exporter keeps one queue per signal, " +
			"each bounded by queue_size, on the same volume; bbolt takes up to QueueVolumeFactor (2) times the " +
			"bytes the sizer counts, and the filesystem keeps about 10 %. A queue not bounded in bytes " +
			"(sizer items or requests) has no bound in bytes at all.",
		check: func(c *Config, f Facts) []string {
			if f.QueueVolume <= 0 {
				return nil
			}
			qs := c.persistentQueues()
			if len(qs) == 0 {
				return nil
			}
			var out, parts []string
			var need float64
			for _, q := range qs {
				if q.sizer != "bytes" {
					out = append(out, fmt.Sprintf("exporter %s (%s): sending_queue::sizer %s bounds no bytes: set sizer: bytes and a queue_size that fits the volume", q.exporter, q.signal, q.sizer))
					continue
				}
				need += float64(q.size) * QueueVolumeFactor
				parts = append(parts, fmt.Sprintf("%s %s", q.exporter, q.signal))
			}
			usable := float64(f.QueueVolume) * VolumeUsable
			if len(parts) > 0 && need > usable {
				each := int64(usable / QueueVolumeFactor / float64(len(parts)))
				out = append(out, fmt.Sprintf("%d persistent queues (%s) full take up to %s (queue_size × %.0f, bbolt), more than %.0f %% of the %s volume (%s): lower queue_size to at most %d or enlarge the volume",
					len(parts), strings.Join(parts, ", "), bytesIEC(int64(need)), QueueVolumeFactor, VolumeUsable*100, bytesIEC(f.QueueVolume), bytesIEC(int64(usable)), each))
			}
			return out
		},
	},
	{
		ID:       "persistent-queue-unguarded",
		Severity: SeverityWarning,
		Roles:    allRoles,
		Summary:  "A persistent sending queue uses a storage extension directly, not through storageguard.",
		Why: "At v0.159.0 upstream's persistent queue reads an item in one storage transaction with its own " +
			"bookkeeping; when the disk is full that transaction fails and the queue skips the item: accepted " +
			"spans are never sent and nothing counts them. storageguard (storage: file_storage, and the " +
			"sending_queue's storage: storageguard) hands such an item to the queue anyway and counts every " +
			"failed write.",
		check: func(c *Config, _ Facts) []string {
			var out []string
			done := map[ComponentID]bool{}
			for _, q := range c.persistentQueues() {
				if done[q.exporter] || ComponentID(q.storage).Is(TypeStorageGuard) {
					continue
				}
				done[q.exporter] = true
				out = append(out, fmt.Sprintf("exporter %s: sending_queue::storage %s is not a storageguard: a full disk loses accepted items silently; wrap it (storageguard: {storage: %s}) and set storage: storageguard", q.exporter, q.storage, q.storage))
			}
			return out
		},
	},
}

// bytesIEC writes n in the largest binary unit that keeps one decimal.
func bytesIEC(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
