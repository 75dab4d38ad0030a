package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/otwatch/otwatch/learning/zones"
	"github.com/otwatch/otwatch/protocols"
	_ "github.com/otwatch/otwatch/protocols/all" // conduits name the registered protocols
)

// Segmentation is the zones and conduits sections (learning/zones).
type Segmentation struct {
	Zones    []zones.Zone
	Conduits []zones.Conduit
}

// Policy builds the zones policy; nil when no zone is configured.
func (s Segmentation) Policy() (*zones.Policy, error) {
	if len(s.Zones) == 0 {
		return nil, nil
	}
	return zones.New(s.Zones, s.Conduits)
}

// zoneFields are the handlers of the two top-level keys; check runs the
// cross-checks once both are read (conduits may come first in the file).
func (d *decoder) zoneFields(s *Segmentation) (fs fields, check func()) {
	var conduitNodes []*yaml.Node
	var zonesNode *yaml.Node
	fs = fields{
		"zones": func(n *yaml.Node, key string) {
			zonesNode = n
			if n.Kind != yaml.SequenceNode {
				d.errorf(n, key, "want a list of zones, got %s", describe(n))
				return
			}
			for i, item := range n.Content {
				ikey := fmt.Sprintf("%s[%d]", key, i)
				z := zones.Zone{Level: -1}
				d.mapping(item, ikey, fields{
					"name": func(n *yaml.Node, key string) {
						v, ok := d.str(n, key, "a zone name")
						switch {
						case !ok:
						case v == zones.Unzoned:
							d.errorf(n, key, "%q is reserved: it names the addresses of no zone", v)
						case !nameRE().MatchString(v):
							d.errorf(n, key, "%q: want lower-case letters, digits, - and _ (at most 32)", v)
						case slices.ContainsFunc(s.Zones, func(o zones.Zone) bool { return o.Name == v }):
							d.errorf(n, key, "zone %q is defined twice", v)
						default:
							z.Name = v
						}
					},
					"networks": func(n *yaml.Node, key string) {
						if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
							d.errorf(n, key, "want a list of networks (CIDR, e.g. 10.1.5.0/24), got %s", describe(n))
							return
						}
						for j, item := range n.Content {
							nkey := fmt.Sprintf("%s[%d]", key, j)
							v, ok := d.str(item, nkey, "a network (CIDR)")
							if !ok {
								continue
							}
							pfx, err := netip.ParsePrefix(v)
							if err != nil {
								d.errorf(item, nkey, "%q is not a network (CIDR, e.g. 10.1.5.0/24)", v)
								continue
							}
							z.Networks = append(z.Networks, pfx.Masked())
						}
					},
					"level": d.integer(&z.Level, 0, 5),
				})
				if item.Kind == yaml.MappingNode {
					switch {
					case z.Name == "" && !d.hasKey(item, "name"):
						d.errorf(item, ikey+".name", "required")
					case len(z.Networks) == 0 && !d.hasKey(item, "networks"):
						d.errorf(item, ikey+".networks", "required")
					}
				}
				s.Zones = append(s.Zones, z)
			}
		},
		"conduits": func(n *yaml.Node, key string) {
			if n.Kind != yaml.SequenceNode {
				d.errorf(n, key, "want a list of conduits, got %s", describe(n))
				return
			}
			for i, item := range n.Content {
				ikey := fmt.Sprintf("%s[%d]", key, i)
				var c zones.Conduit
				d.mapping(item, ikey, fields{
					"from": func(n *yaml.Node, key string) { c.From, _ = d.str(n, key, "a zone name") },
					"to":   func(n *yaml.Node, key string) { c.To, _ = d.str(n, key, "a zone name") },
					"protocols": func(n *yaml.Node, key string) {
						c.Protocols = d.names(n, key, "protocols", zones.Protocols())
					},
					"ops": func(n *yaml.Node, key string) {
						for _, name := range d.names(n, key, "ops", protocols.OpNames()) {
							op, _ := protocols.ParseOp(name)
							c.Ops = append(c.Ops, op)
						}
					},
				})
				if item.Kind == yaml.MappingNode {
					for _, k := range []string{"from", "to"} {
						if !d.hasKey(item, k) {
							d.errorf(item, ikey+"."+k, "required")
						}
					}
				}
				s.Conduits = append(s.Conduits, c)
				conduitNodes = append(conduitNodes, item)
			}
		},
	}
	check = func() {
		if len(d.errs) > 0 {
			return
		}
		known := []string{zones.Unzoned}
		for _, z := range s.Zones {
			known = append(known, z.Name)
		}
		for i, c := range s.Conduits {
			for _, side := range []struct{ key, zone string }{{"from", c.From}, {"to", c.To}} {
				if !slices.Contains(known, side.zone) {
					d.errorf(conduitNodes[i], fmt.Sprintf("conduits[%d].%s", i, side.key), "%q is not a zone (zones: %s)", side.zone, strings.Join(known, ", "))
				}
			}
		}
		if len(d.errs) == 0 && len(s.Zones) > 0 {
			if _, err := zones.New(s.Zones, s.Conduits); err != nil {
				d.errorf(zonesNode, "zones", "%v", err)
			}
		}
		if len(s.Conduits) > 0 && len(s.Zones) == 0 && len(d.errs) == 0 {
			d.errorf(conduitNodes[0], "conduits", "conduits need zones")
		}
	}
	return fs, check
}

// names reads a list of names, each one of allowed.
func (d *decoder) names(n *yaml.Node, key, what string, allowed []string) []string {
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, key, "want a list of %s (%s), got %s", what, strings.Join(allowed, ", "), describe(n))
		return nil
	}
	var out []string
	for i, item := range n.Content {
		ikey := fmt.Sprintf("%s[%d]", key, i)
		v, ok := d.str(item, ikey, "a name")
		if !ok {
			continue
		}
		if !slices.Contains(allowed, v) {
			d.errorf(item, ikey, "%q: want one of %s", v, strings.Join(allowed, ", "))
			continue
		}
		out = append(out, v)
	}
	return out
}

func (d *decoder) hasKey(n *yaml.Node, key string) bool {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return true
		}
	}
	return false
}

// LoadSegmentation reads the zones and conduits of a file that holds only
// those two keys, or of the daemon's whole configuration (for otwatch read
// --zones and inventory export --zones).
func LoadSegmentation(path string) (Segmentation, error) {
	var s Segmentation
	src, err := os.ReadFile(path)
	if err != nil {
		return s, Errors{{File: path, Msg: err.Error()}}
	}
	d := &decoder{file: path}
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(src)).Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return s, Errors{{File: path, Msg: "not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}}
	}
	if len(doc.Content) != 1 {
		return s, Errors{{File: path, Key: "zones", Msg: "required: the file holds no keys"}}
	}
	if d.hasKey(doc.Content[0], "interfaces") { // the daemon's whole configuration
		c, err := Parse(path, src)
		if err != nil {
			return s, err
		}
		return c.Segmentation, nil
	}
	fs, check := d.zoneFields(&s)
	d.mapping(doc.Content[0], "", fs)
	check()
	if len(d.errs) > 0 {
		return Segmentation{}, d.errs
	}
	return s, nil
}
