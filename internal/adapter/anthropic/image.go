package anthropic

import (
	"strings"

	"aigateway/internal/adapter"
	"aigateway/internal/openai"
)

// imageBlock converts an image_url part: a base64 data URL becomes a base64
// source, an http(s) URL a url source (Anthropic fetches it; one-api
// downloads it itself, both work). param names the part's url field.
func imageBlock(img *openai.ImageURL, param string) (block, *adapter.Error) {
	if img == nil || img.URL == "" {
		return block{}, invalid(param, "missing_required_parameter", "%s is required", param)
	}
	u := img.URL
	switch {
	case hasPrefixFold(u, "data:"):
		src, e := dataURL(u, param)
		if e != nil {
			return block{}, e
		}
		return block{Type: "image", Source: src}, nil
	case hasPrefixFold(u, "https://"), hasPrefixFold(u, "http://"):
		return block{Type: "image", Source: &imageSource{Type: "url", URL: u}}, nil
	}
	return block{}, invalid(param, "invalid_value", "%s must be an http(s) URL or a base64 data URL", param)
}

// dataURL parses data:<media type>[;params];base64,<data>.
func dataURL(u, param string) (*imageSource, *adapter.Error) {
	meta, data, ok := strings.Cut(u[len("data:"):], ",")
	if !ok || data == "" {
		return nil, invalid(param, "invalid_value", "%s is not a valid data URL", param)
	}
	fields := strings.Split(meta, ";")
	base64 := false
	for _, f := range fields[1:] {
		base64 = base64 || strings.EqualFold(strings.TrimSpace(f), "base64")
	}
	if !base64 {
		return nil, invalid(param, adapter.CodeUnsupportedParameter, "%s: image data URLs must be base64-encoded", param)
	}
	mt := strings.ToLower(strings.TrimSpace(fields[0]))
	switch mt {
	case "image/jpg": // a common misspelling that every decoder reads as JPEG
		mt = "image/jpeg"
	case "image/jpeg", "image/png", "image/gif", "image/webp":
	default:
		return nil, invalid(param, adapter.CodeUnsupportedParameter,
			"%s: image type %q is not supported by this model; use image/jpeg, image/png, image/gif or image/webp", param, mt)
	}
	return &imageSource{Type: "base64", MediaType: mt, Data: data}, nil
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}
