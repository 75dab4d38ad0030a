package protocols

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Profile declares what the product outside protocols/ needs to know about
// one record protocol (a Transaction.Proto value): the inventory's roles,
// the alert engine's classes, the zones' protocol names and the
// benchmarks' inputs all come from here, so learning/, alerts/ and ui/
// name no protocol. A dissector declares its profiles in
// Dissector.Profiles; one without gets a bare profile under its own name.
type Profile struct {
	// Name is the record's proto value.
	Name string
	// ServerRoles are the roles the server side of a flow takes ("plc").
	ServerRoles []string
	// ClientRoles are the roles every client takes: a DNP3 master is a
	// "scada_master", an OPC UA client an "opcua_client".
	ClientRoles []string
	// ProcessClient: clients read and write process data in the field
	// devices, so a client of many servers is a SCADA master and one of a
	// few an HMI.
	ProcessClient bool
	// Vendor is the vendor every server of this protocol is made by
	// ("siemens" for S7), "" when many vendors speak it.
	Vendor string
	// Classify gives a transaction's class beyond its op; nil: ClassNone.
	Classify func(t *Transaction) Class
	// ResponseTimeout is how long the dissector waits for a response
	// before it records the request unanswered (0: it pairs nothing).
	ResponseTimeout time.Duration
	// Bench names the pipeline benchmark's input; nil: not benchmarked.
	Bench *BenchInput
}

// ControllerProfile is the profile of a protocol whose servers are
// controllers (PLCs) and whose clients read and write process data in
// them: Modbus, S7comm, CIP. Its dissector adds what else it knows
// (vendor, benchmark input).
func ControllerProfile(name string, responseTimeout time.Duration, classify func(*Transaction) Class) Profile {
	return Profile{Name: name, ServerRoles: []string{"plc"}, ProcessClient: true,
		Classify: classify, ResponseTimeout: responseTimeout}
}

// Class is what a transaction means beyond its op, for the rules that
// the shared op vocabulary cannot express alone.
type Class uint8

const (
	ClassNone Class = iota
	// ClassConfigChange changes a device's configuration (clock, class
	// assignment, delimiters, ...).
	ClassConfigChange
	// ClassListenOnly silences a device on its line (Modbus 8/4).
	ClassListenOnly
	// ClassEngineering is something only engineering software does
	// (reading an S7 CPU's system status list).
	ClassEngineering
)

var classNames = [...]string{"none", "config_change", "force_listen_only", "engineering"}

func (c Class) String() string {
	if int(c) < len(classNames) {
		return classNames[c]
	}
	return "none"
}

// BenchInput is a protocol's pipeline-throughput input: a corpus capture
// (relative to ../shared/corpus) copied with ipcopies.py, and the tshark
// field the same file is timed with.
type BenchInput struct {
	Capture     string
	Copies      int
	TsharkField string
}

// profileCache is the index profileIndex made, nil until it is asked for
// and after a registration; profileMu orders its making and its reset.
// Each transaction asks it (ClassOf), so a made index is read without the
// lock.
var (
	profileMu    sync.Mutex
	profileCache atomic.Pointer[map[string]*profileEntry]
)

type profileEntry struct {
	profile Profile
	owner   *Dissector
}

func profileIndex() map[string]*profileEntry {
	if idx := profileCache.Load(); idx != nil {
		return *idx
	}
	profileMu.Lock()
	defer profileMu.Unlock()
	if idx := profileCache.Load(); idx != nil {
		return *idx
	}
	idx := map[string]*profileEntry{}
	for _, d := range Dissectors() {
		ps := d.Profiles
		if ps == nil {
			ps = []Profile{{Name: d.Name}}
		}
		for _, p := range ps {
			if _, dup := idx[p.Name]; !dup {
				idx[p.Name] = &profileEntry{profile: p, owner: d}
			}
		}
	}
	profileCache.Store(&idx)
	return idx
}

func resetProfiles() {
	profileMu.Lock()
	profileCache.Store(nil)
	profileMu.Unlock()
}

// Profiles returns every record protocol's profile, sorted by name.
func Profiles() []Profile {
	idx := profileIndex()
	out := make([]Profile, 0, len(idx))
	for _, e := range idx {
		out = append(out, e.profile)
	}
	slices.SortFunc(out, func(a, b Profile) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// ProfileOf returns the profile of a record protocol; ok is false for a
// name no registered dissector emits.
func ProfileOf(name string) (Profile, bool) {
	if e := profileIndex()[name]; e != nil {
		return e.profile, true
	}
	return Profile{}, false
}

// RecordProtocols lists the record proto values of the registered dissectors, sorted.
func RecordProtocols() []string {
	ps := Profiles()
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Name
	}
	return out
}

// ClassOf classifies a transaction by its protocol's profile.
func ClassOf(t *Transaction) Class {
	if e := profileIndex()[t.Proto]; e != nil && e.profile.Classify != nil {
		return e.profile.Classify(t)
	}
	return ClassNone
}

// Classifier classifies transactions as ClassOf does, remembering the last
// protocol's profile: a consumer sees long runs of one protocol, and finding
// a profile is a map lookup by name. The zero value is ready; it is not
// safe for concurrent use (each consumer keeps its own).
type Classifier struct {
	idx      *map[string]*profileEntry // the index the memo was made from
	proto    string
	classify func(*Transaction) Class // nil: the protocol classifies nothing
}

// Of is ClassOf(t).
func (c *Classifier) Of(t *Transaction) Class {
	if profileCache.Load() != c.idx || t.Proto != c.proto {
		c.classify = nil
		if e := profileIndex()[t.Proto]; e != nil {
			c.classify = e.profile.Classify
		}
		c.idx, c.proto = profileCache.Load(), t.Proto
	}
	if c.classify == nil {
		return ClassNone
	}
	return c.classify(t)
}

// owner returns the dissector that emits a record protocol.
func owner(name string) *Dissector {
	if e := profileIndex()[name]; e != nil {
		return e.owner
	}
	return nil
}
