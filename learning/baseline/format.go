package baseline

import (
	"strconv"
	"strings"
)

func formatNum(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

func formatSet(vs []float64) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = formatNum(v)
	}
	return "{" + strings.Join(parts, ", ") + "}"
}
