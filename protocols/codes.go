package protocols

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// Code is what a protocol's code table says of one code: the name the
// records carry and the operation it performs.
type Code struct {
	Name string
	Op   Op
}

// LoadCodes reads a protocol's code tables from text (its codes.tsv): data,
// kept apart from the decoding that branches on a few of the codes. T is a
// struct whose exported fields are the tables, each a map from an integer
// or string code, or an array indexed by the code, of Code or of a name
// (string). The text holds one entry a line, tab-separated: the field, the
// code (decimal or 0x hex, or the text for string codes), the name and,
// for tables of Code, the op (protocols.OpNames); blank lines and lines
// starting with # are skipped.
//
// A line with the wrong number of columns, an unknown table or op, a code
// that does not fit its table, an empty name, a code listed twice in one
// table or a table without any entry is an error naming the line or table.
// Tables are built once (a protocol loads them when its package is
// initialised): lookups stay map and array lookups.
func LoadCodes[T any](text string) (*T, error) {
	out := new(T)
	v := reflect.ValueOf(out).Elem()
	if v.Kind() != reflect.Struct {
		return nil, fmt.Errorf("code tables: %T is not a struct", *out)
	}
	filled := map[string]bool{}
	for i, line := range strings.Split(text, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if err := loadCode(v, line, filled); err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
	}
	for i := 0; i < v.NumField(); i++ {
		if f := v.Type().Field(i); f.IsExported() && !filled[f.Name] {
			return nil, fmt.Errorf("table %s has no entry", f.Name)
		}
	}
	return out, nil
}

// MustLoadCodes is LoadCodes for a package's embedded tables: a bad file
// panics at init, which fails every test of the package.
func MustLoadCodes[T any](text string) *T {
	t, err := LoadCodes[T](text)
	if err != nil {
		panic(fmt.Sprintf("protocols: codes: %v", err))
	}
	return t
}

var codeType = reflect.TypeOf(Code{})

func loadCode(tables reflect.Value, line string, filled map[string]bool) error {
	cols := strings.Split(line, "\t")
	if len(cols) < 3 {
		return fmt.Errorf("%d columns; want table, code, name and, for a table of ops, the op", len(cols))
	}
	name := cols[0]
	sf, ok := tables.Type().FieldByName(name)
	if !ok || !sf.IsExported() {
		return fmt.Errorf("no table %q", name)
	}
	table := tables.FieldByIndex(sf.Index)
	elem := table.Type().Elem()
	withOp := elem == codeType
	switch {
	case withOp && len(cols) != 4:
		return fmt.Errorf("%s: %d columns; a table of ops wants table, code, name, op", name, len(cols))
	case !withOp && len(cols) != 3:
		return fmt.Errorf("%s: %d columns; a table of names wants table, code, name", name, len(cols))
	case elem != codeType && elem.Kind() != reflect.String:
		return fmt.Errorf("%s: a table holds Code or string, not %s", name, elem)
	}
	entry := Code{Name: cols[2]}
	if entry.Name == "" || strings.TrimSpace(entry.Name) != entry.Name {
		return fmt.Errorf("%s %s: empty name or stray spaces", name, cols[1])
	}
	if withOp {
		if entry.Op, ok = ParseOp(cols[3]); !ok {
			return fmt.Errorf("%s %s: unknown op %q", name, cols[1], cols[3])
		}
	}
	val := reflect.ValueOf(entry)
	if !withOp {
		val = reflect.ValueOf(entry.Name).Convert(elem)
	}
	switch table.Kind() {
	case reflect.Array:
		n, err := strconv.ParseUint(cols[1], 0, 64)
		if err != nil || n >= uint64(table.Len()) {
			return fmt.Errorf("%s: code %q is not a number below %d", name, cols[1], table.Len())
		}
		if !table.Index(int(n)).IsZero() {
			return fmt.Errorf("%s: code %s listed twice", name, cols[1])
		}
		table.Index(int(n)).Set(val)
	case reflect.Map:
		key, err := codeKey(table.Type().Key(), cols[1])
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if table.IsNil() {
			table.Set(reflect.MakeMap(table.Type()))
		}
		if table.MapIndex(key).IsValid() {
			return fmt.Errorf("%s: code %s listed twice", name, cols[1])
		}
		table.SetMapIndex(key, val)
	default:
		return fmt.Errorf("%s: a table is a map or an array, not %s", name, table.Type())
	}
	filled[name] = true
	return nil
}

// codeKey converts a code's text to the table's key type, refusing what
// does not fit it.
func codeKey(t reflect.Type, s string) (reflect.Value, error) {
	k := reflect.New(t).Elem()
	switch t.Kind() {
	case reflect.String:
		k.SetString(s)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(s, 0, 64)
		if err != nil || k.OverflowInt(n) {
			return k, fmt.Errorf("code %q does not fit %s", s, t)
		}
		k.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, err := strconv.ParseUint(s, 0, 64)
		if err != nil || k.OverflowUint(n) {
			return k, fmt.Errorf("code %q does not fit %s", s, t)
		}
		k.SetUint(n)
	default:
		return k, fmt.Errorf("codes keyed by %s", t)
	}
	return k, nil
}
