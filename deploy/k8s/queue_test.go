package k8s_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/otelcol-tiered/otelcol-tiered/internal/tierrules"
)

// Issue 15: the gateway StatefulSet matches the disk queue's design.
//   - The grace period covers the stop budget of the config the pod runs
//     (tierrules' one sum: preStop, stickycheck's drain, decision_wait,
//     batch, the export queue's drain, the last export), checked by the
//     stop-grace-too-short rule itself.
//   - The queue's PVC outlives a scale-in and a deletion (Retain): when the
//     backend is down through a stop, what the drain could not send stays on
//     the replica's own volume, and the replica of that ordinal sends it when
//     it starts again; nothing deletes it meanwhile.
//   - The queue volume is the one file_storage writes to, and the queues,
//     full, fit it (persistent-queue-exceeds-volume, with the claim's size):
//     a full queue refuses before the disk fills; they reach file_storage
//     through storageguard (persistent-queue-unguarded).
func TestGatewayStatefulSetMatchesTheDiskQueueDesign(t *testing.T) {
	for o, w := range tier(t, "gateway") {
		t.Run(o, func(t *testing.T) {
			set := render(t, o)
			ss := statefulSet(t, set, w)
			v := w.view(t, set, 0)

			c, err := tierrules.Parse(v.Config.ToStringMap())
			require.NoError(t, err)
			var preStop time.Duration
			if h := container(t, w).Lifecycle; h != nil && h.PreStop != nil && h.PreStop.Sleep != nil {
				preStop = time.Duration(h.PreStop.Sleep.Seconds) * time.Second
			}
			spec := ss.Spec.Template.Spec
			require.NotNil(t, spec.TerminationGracePeriodSeconds)
			grace := time.Duration(*spec.TerminationGracePeriodSeconds) * time.Second
			budget := c.Stop(preStop)
			var sources []string
			for _, s := range budget.Steps {
				sources = append(sources, s.Source)
			}
			assert.Contains(t, sources, "exportguard::drain::timeout", "the disk queue is drained at stop")
			var volume int64
			for _, vct := range ss.Spec.VolumeClaimTemplates {
				if q, ok := vct.Spec.Resources.Requests[corev1.ResourceStorage]; ok {
					volume = q.Value()
				}
			}
			require.Positive(t, volume, "the queue's claim requests a size")
			findings := tierrules.Check(c, tierrules.Gateway, tierrules.Facts{Workload: "StatefulSet", GracePeriod: grace, PreStop: preStop, QueueVolume: volume})
			for _, f := range findings {
				assert.NotContains(t, []string{"stop-grace-too-short", "disk-queue-not-drained-at-stop", "export-queue-smaller-than-stop-release",
					"persistent-queue-exceeds-volume", "persistent-queue-unguarded"}, f.Rule, f.Message)
			}
			t.Logf("the full queues fit the %d-byte claim (persistent-queue-exceeds-volume)", volume)
			t.Logf("terminationGracePeriodSeconds %s >= stop budget %s", grace, budget)

			p := ss.Spec.PersistentVolumeClaimRetentionPolicy
			require.NotNil(t, p, "persistentVolumeClaimRetentionPolicy is written out")
			assert.Equal(t, appsv1.RetainPersistentVolumeClaimRetentionPolicyType, p.WhenScaled, "a scale-in keeps the queue for the ordinal's return")
			assert.Equal(t, appsv1.RetainPersistentVolumeClaimRetentionPolicyType, p.WhenDeleted)

			dir := v.Env["FILE_STORAGE_DIR"]
			require.NotEmpty(t, dir)
			mounted := false
			for _, m := range container(t, w).VolumeMounts {
				if m.MountPath == dir {
					mounted = true
					found := false
					for _, vct := range ss.Spec.VolumeClaimTemplates {
						found = found || vct.Name == m.Name
					}
					assert.True(t, found, "%s is a volumeClaimTemplate (its own PVC per replica)", m.Name)
				}
			}
			assert.True(t, mounted, "FILE_STORAGE_DIR %s is a mounted volume", dir)
		})
	}
}
