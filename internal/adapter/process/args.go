package process

import (
	"fmt"
	"strconv"
	"strings"
)

// placeholder is one of the values a command argument may hold.
type placeholder uint8

const (
	phNone placeholder = iota
	phPrompt
	phModel
	phMaxTokens
	phTemperature
	phTopP
	phSeed
	phPresencePenalty
	phFrequencyPenalty
)

// lookupPlaceholder maps the name between the braces to its placeholder.
func lookupPlaceholder(name string) (placeholder, bool) {
	switch name {
	case "prompt":
		return phPrompt, true
	case "model":
		return phModel, true
	case "max_tokens":
		return phMaxTokens, true
	case "temperature":
		return phTemperature, true
	case "top_p":
		return phTopP, true
	case "seed":
		return phSeed, true
	case "presence_penalty":
		return phPresencePenalty, true
	case "frequency_penalty":
		return phFrequencyPenalty, true
	}
	return phNone, false
}

// knownPlaceholders lists the placeholders for messages.
const knownPlaceholders = "{prompt}, {model}, {max_tokens}, {temperature}, {top_p}, {seed}, {presence_penalty}, {frequency_penalty}"

// param names the request parameter behind a placeholder, for messages.
func (ph placeholder) param() string {
	switch ph {
	case phPrompt:
		return "messages"
	case phModel:
		return "model"
	case phMaxTokens:
		return "max_tokens"
	case phTemperature:
		return "temperature"
	case phTopP:
		return "top_p"
	case phSeed:
		return "seed"
	case phPresencePenalty:
		return "presence_penalty"
	case phFrequencyPenalty:
		return "frequency_penalty"
	}
	return ""
}

// segment is literal text, or a placeholder when ph is set.
type segment struct {
	lit string
	ph  placeholder
}

// arg is one command argument split into literal text and placeholders.
type arg []segment

// cmdArg is one argument after the program, parsed when the adapter is
// built.
type cmdArg struct {
	arg
	// leading is the placeholder whose value begins the argument, unless a
	// literal "--" came before it; else phNone. The program would read such
	// an argument as an option when the value starts with "-" (a prompt
	// "--log-file=x" writes a file), so job refuses those values. An
	// argument after "--", or with text before the placeholder
	// ("--prompt={prompt}"), is always an operand or an option's value.
	leading placeholder
}

// endOfOptions is the argument after which, by the POSIX convention,
// every argument is an operand, even one starting with "-".
const endOfOptions = "--"

// parseArgs parses the arguments after the program; first is the index of
// args[0] in the command, for error messages.
func parseArgs(args []string, first int) ([]cmdArg, error) {
	out := make([]cmdArg, len(args))
	operands := false // a literal "--" came before
	for i, s := range args {
		ar, err := parseArg(s)
		if err != nil {
			return nil, fmt.Errorf("command[%d]: %w", first+i, err)
		}
		out[i].arg = ar
		if !operands {
			out[i].leading = ar[0].ph
		}
		operands = operands || s == endOfOptions
	}
	return out, nil
}

// parseArg splits s at its placeholders: "{name}" where name starts with a
// letter or "_" and holds letters, digits and "_". Other braces ("{1,3}",
// JSON) are literal text. An unknown name is an error, so that a typo such
// as {promt} fails at start instead of reaching the program verbatim.
func parseArg(s string) (arg, error) {
	var ar arg
	lit := 0 // start of the pending literal text
	for i := 0; i < len(s); i++ {
		if s[i] != '{' {
			continue
		}
		end := identEnd(s, i+1)
		if end == i+1 || end >= len(s) || s[end] != '}' {
			continue
		}
		name := s[i+1 : end]
		ph, ok := lookupPlaceholder(name)
		if !ok {
			return nil, fmt.Errorf("unknown placeholder {%s}; known: %s", name, knownPlaceholders)
		}
		if i > 0 && s[i-1] == '{' && end+1 < len(s) && s[end+1] == '}' {
			return nil, fmt.Errorf("write {%s}, not {{%s}}", name, name)
		}
		if lit < i {
			ar = append(ar, segment{lit: s[lit:i]})
		}
		ar = append(ar, segment{ph: ph})
		lit = end + 1
		i = end
	}
	if lit < len(s) || len(ar) == 0 {
		ar = append(ar, segment{lit: s[lit:]})
	}
	return ar, nil
}

// identEnd returns the end of the identifier starting at i (i when none).
func identEnd(s string, i int) int {
	j := i
	for ; j < len(s); j++ {
		c := s[j]
		letter := c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !letter && (j == i || c < '0' || c > '9') {
			break
		}
	}
	return j
}

func (ar arg) hasPlaceholders() bool {
	for _, seg := range ar {
		if seg.ph != phNone {
			return true
		}
	}
	return false
}

func (ar arg) uses(ph placeholder) bool {
	for _, seg := range ar {
		if seg.ph == ph {
			return true
		}
	}
	return false
}

// values are what the placeholders stand for in one request.
type values struct {
	prompt      string
	model       string
	maxTokens   int64
	temperature float64
	topP        float64
	seed        int64
	presence    float64 // presence_penalty
	frequency   float64 // frequency_penalty
}

// render returns the argument with its placeholders replaced. Numbers are
// written plainly: llama.cpp and most CLIs parse neither exponents nor
// JSON.
func (ar arg) render(v *values) string {
	if len(ar) == 1 {
		switch ar[0].ph {
		case phNone:
			return ar[0].lit
		case phPrompt: // no copy of a long prompt
			return v.prompt
		case phModel:
			return v.model
		}
	}
	var b strings.Builder
	for _, seg := range ar {
		switch seg.ph {
		case phNone:
			b.WriteString(seg.lit)
		case phPrompt:
			b.WriteString(v.prompt)
		case phModel:
			b.WriteString(v.model)
		case phMaxTokens:
			b.WriteString(strconv.FormatInt(v.maxTokens, 10))
		case phTemperature:
			b.WriteString(formatNumber(v.temperature))
		case phTopP:
			b.WriteString(formatNumber(v.topP))
		case phSeed:
			b.WriteString(strconv.FormatInt(v.seed, 10))
		case phPresencePenalty:
			b.WriteString(formatNumber(v.presence))
		case phFrequencyPenalty:
			b.WriteString(formatNumber(v.frequency))
		}
	}
	return b.String()
}

// formatNumber writes a decimal plainly (0.7, never 7e-01), and 0 for -0,
// which would read as an option.
func formatNumber(f float64) string {
	if f == 0 {
		return "0"
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}
