package alerts

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/otwatch/otwatch/alerts/finding"
	"github.com/otwatch/otwatch/learning/baseline"
	"github.com/stretchr/testify/require"
)

// TestNarrativeIsWhatFmtWrote: the narrative, now appended, is the text
// fmt printed before, for incidents of a random run with repeats, new
// hosts, one-second and long spans, skipped events and more assets than
// listed.
func TestNarrativeIsWhatFmtWrote(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	e := NewEngine(Config{}, baseline.New(baseline.Config{Mode: baseline.ModeDetect}), nil)
	now := t0
	kinds := []string{"new_link", "plc_stop", "scan", "malformed_pdu", "new_asset", "new_host"}
	for i := 0; i < 3000; i++ {
		now = now.Add(time.Duration(rng.IntN(90)) * time.Second / time.Duration(1+rng.IntN(3)))
		client := fmt.Sprintf("10.9.0.%d", rng.IntN(12))
		server := fmt.Sprintf("10.0.0.%d", rng.IntN(40))
		e.Raise(finding.Finding{Key: finding.NewKey(kinds[rng.IntN(len(kinds))], server, client, fmt.Sprint(rng.IntN(50))),
			Time: now, Asset: server, Message: awkward[rng.IntN(len(awkward))] + ".", Source: &finding.Host{IP: client}})
	}
	for i := range 5 { // incidents of one alert
		e.Raise(finding.Finding{Key: finding.NewKey("new_host", fmt.Sprintf("10.8.0.%d", i)), Time: now.Add(time.Duration(i) * time.Millisecond),
			Asset: fmt.Sprintf("10.8.0.%d", i), Message: "a host not seen before", Source: &finding.Host{IP: fmt.Sprintf("10.8.0.%d", i)}})
	}
	seen := map[string]bool{}
	for _, inc := range e.incidents.all {
		for _, extra := range []int{0, 3} {
			c := *inc
			c.AssetCount += extra
			c.Skipped += extra
			require.Equal(t, narrativeByFmt(&c), narrative(&c), "incident %s", c.ID)
			seen["skipped"] = seen["skipped"] || c.Skipped > 0
			seen["repeats"] = seen["repeats"] || strings.Contains(narrative(&c), " more ")
			seen["one second"] = seen["one second"] || c.First.Unix() == c.Last.Unix()
			seen["span"] = seen["span"] || c.First.Unix() != c.Last.Unix()
			seen["new host"] = seen["new host"] || contains(c.Kinds, "new_host")
		}
	}
	require.Len(t, seen, 5)
	for k, v := range seen {
		require.True(t, v, "no incident with %s", k)
	}
}

// narrativeByFmt is the narrative as fmt printed it, the reference.
func narrativeByFmt(inc *Incident) string {
	var b strings.Builder
	newHost := contains(inc.Kinds, "new_asset") || contains(inc.Kinds, "new_host")
	fmt.Fprintf(&b, "%s", inc.Source)
	if newHost {
		b.WriteString(", a host not in the baseline,")
	}
	fmt.Fprintf(&b, " was first seen in this incident at %s.", inc.First.UTC().Format(time.RFC3339))
	// what they did, in order, consecutive repeats of a kind collapsed
	shown := 0
	for i := 0; i < len(inc.Events) && shown < 12; i++ {
		ev := inc.Events[i]
		n := 1
		for i+1 < len(inc.Events) && inc.Events[i+1].Kind == ev.Kind {
			i++
			n++
		}
		fmt.Fprintf(&b, "\nAt %s: %s", ev.TS.UTC().Format("15:04:05"), strings.TrimSuffix(ev.Message, "."))
		if n > 1 {
			fmt.Fprintf(&b, " (and %d more %s alerts)", n-1, ev.Kind)
		}
		b.WriteString(".")
		shown++
	}
	if inc.Skipped > 0 {
		fmt.Fprintf(&b, "\n(%d more alerts in between are listed on the alerts page.)", inc.Skipped)
	}
	if len(inc.Assets) > 0 {
		fmt.Fprintf(&b, "\nAssets involved: %s", strings.Join(inc.Assets, ", "))
		if inc.AssetCount > len(inc.Assets) {
			fmt.Fprintf(&b, " and %d more", inc.AssetCount-len(inc.Assets))
		}
		b.WriteString(".")
	}
	worst := ""
	for _, ev := range inc.Events {
		if ev.Severity == inc.MaxSeverity {
			worst = ev.Kind
			break
		}
	}
	alerts := "alerts"
	if inc.AlertCount == 1 {
		alerts = "alert"
	}
	first, last := inc.First.UTC().Format(time.RFC3339), inc.Last.UTC().Format(time.RFC3339)
	when := "from " + first + " to " + last
	if first == last {
		when = "at " + first // not "from T to T"
	}
	fmt.Fprintf(&b, "\nHighest severity %d (%s); %d %s %s.", inc.MaxSeverity, worst, inc.AlertCount, alerts, when)
	return b.String()
}
