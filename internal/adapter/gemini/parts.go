package gemini

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"aigateway/internal/adapter"
	"aigateway/internal/openai"
)

// contentParts converts the content of message i into Gemini parts. Empty
// text is dropped (Gemini rejects empty parts). allowMedia is false for
// system messages, whose content OpenAI defines as text only.
func contentParts(c *openai.MessageContent, i int, allowMedia bool, o *RequestOptions) ([]part, error) {
	if c.Text != nil {
		if *c.Text == "" {
			return nil, nil
		}
		return []part{{Text: *c.Text}}, nil
	}
	var parts []part
	for j := range c.Parts {
		p := &c.Parts[j]
		param := fmt.Sprintf("messages[%d].content[%d]", i, j)
		switch p.Type {
		case "text", "input_text":
			if p.Text != "" {
				parts = append(parts, part{Text: p.Text})
			}
		case "refusal":
			if p.Refusal != "" {
				parts = append(parts, part{Text: p.Refusal})
			}
		case "image_url", "input_audio", "file":
			if !allowMedia {
				return nil, badParam(param, "invalid_value", "%s: system and developer messages can only contain text", param)
			}
			b, err := mediaPart(p, param, o)
			if err != nil {
				return nil, err
			}
			parts = append(parts, part{InlineData: b})
		default:
			return nil, badParam(param+".type", adapter.CodeUnsupportedParameter, "%s.type: content part type %q is not supported", param, p.Type)
		}
	}
	return parts, nil
}

// mediaPart converts an image_url, input_audio or file part to inline data.
func mediaPart(p *openai.ContentPart, param string, o *RequestOptions) (*blob, error) {
	switch p.Type {
	case "image_url":
		if p.ImageURL == nil || p.ImageURL.URL == "" {
			return nil, badParam(param+".image_url.url", "invalid_value", "%s.image_url.url is required", param)
		}
		return imageBlob(p.ImageURL.URL, param+".image_url.url", o)
	case "input_audio":
		return audioBlob(p.InputAudio, param+".input_audio")
	default:
		return fileBlob(p.File, param+".file")
	}
}

// imageBlob turns an image URL into inline data. image_url.detail has no
// Gemini counterpart per part and is ignored: it trades cost for resolution
// and does not change what the model is asked.
func imageBlob(url, param string, o *RequestOptions) (*blob, error) {
	if strings.HasPrefix(url, "data:") {
		return dataURLBlob(url, param)
	}
	lower := strings.ToLower(url)
	if !strings.HasPrefix(lower, "http://") && !strings.HasPrefix(lower, "https://") {
		return nil, badParam(param, "invalid_value", "%s: must be an http(s) URL or a data: URL", param)
	}
	if o.FetchImage == nil {
		return nil, badParam(param, adapter.CodeUnsupportedParameter,
			`%s: Gemini cannot take image URLs, only inline image data. Send the image as a data: URL (data:image/png;base64,...), or ask the gateway operator to set "fetch_images": true on this model so that the gateway downloads it`, param)
	}
	data, mime, err := o.FetchImage(url)
	if err != nil {
		return nil, fetchError(param, err)
	}
	if mime == "" {
		// 684 base64 characters decode to 513 bytes, more than sniffing reads.
		head, _ := base64.StdEncoding.DecodeString(data[:min(len(data), 684)])
		mime = http.DetectContentType(head)
	}
	return &blob{MimeType: mime, Data: data}, nil
}

// fetchError returns what the client sees when the image at param could
// not be fetched. A limit of the gateway is named. Any other failure gets
// one message, whatever happened: saying that an address was refused, a
// connection failed or a server answered 404 would let a client map what
// the gateway can reach. The detail is in Cause, for the log.
func fetchError(param string, err error) error {
	var limit *imageLimitError
	if errors.As(err, &limit) {
		return badParam(param, limit.code, "%s: %s", param, limit.msg)
	}
	var ae *adapter.Error
	if errors.As(err, &ae) {
		return ae
	}
	e := badParam(param, "image_fetch_failed",
		"%s: could not fetch the image. The gateway fetches only public http(s) URLs that answer with an image in time, "+
			"following at most %d redirects; send the image inline as a data: URL instead", param, maxFetchRedirects)
	e.Cause = err
	return e
}

// dataURLBlob parses data:<mime>[;params];base64,<data>.
func dataURLBlob(url, param string) (*blob, error) {
	meta, data, ok := strings.Cut(strings.TrimPrefix(url, "data:"), ",")
	mime, params, _ := strings.Cut(meta, ";")
	if !ok || mime == "" || !hasBase64Param(params) {
		return nil, badParam(param, "invalid_value", "%s: a data URL must look like data:<media type>;base64,<data>", param)
	}
	return &blob{MimeType: mime, Data: data}, nil
}

func hasBase64Param(params string) bool {
	for _, p := range strings.Split(params, ";") {
		if strings.EqualFold(strings.TrimSpace(p), "base64") {
			return true
		}
	}
	return false
}

// audioFormats maps OpenAI input_audio formats to the MIME types Gemini
// lists for audio input.
var audioFormats = map[string]string{"wav": "audio/wav", "mp3": "audio/mp3"}

// audioBlob converts input_audio {data: base64, format}.
func audioBlob(raw json.RawMessage, param string) (*blob, error) {
	var a struct {
		Data   string `json:"data"`
		Format string `json:"format"`
	}
	if len(raw) == 0 || json.Unmarshal(raw, &a) != nil || a.Data == "" {
		return nil, badParam(param, "invalid_value", "%s must be an object with data (base64) and format", param)
	}
	mime, ok := audioFormats[a.Format]
	if !ok {
		return nil, badParam(param+".format", "invalid_value", "%s.format must be wav or mp3, got %q", param, a.Format)
	}
	return &blob{MimeType: mime, Data: a.Data}, nil
}

// fileBlob converts a file part given inline (file_data as a data URL).
// OpenAI file ids name files in OpenAI's storage, which Gemini cannot read.
func fileBlob(raw json.RawMessage, param string) (*blob, error) {
	var f struct {
		FileData string `json:"file_data"`
		FileID   string `json:"file_id"`
	}
	if len(raw) == 0 || json.Unmarshal(raw, &f) != nil {
		return nil, badParam(param, "invalid_value", "%s must be an object", param)
	}
	if f.FileData == "" {
		return nil, badParam(param+".file_id", adapter.CodeUnsupportedParameter, "%s: file_id is not supported for Gemini models; send the file inline as file_data (a data: URL)", param)
	}
	if !strings.HasPrefix(f.FileData, "data:") {
		// The OpenAI SDKs document file_data as a data URL; bare base64
		// would leave the MIME type unknown.
		return nil, badParam(param+".file_data", "invalid_value", "%s.file_data must be a data URL (data:<media type>;base64,<data>)", param)
	}
	return dataURLBlob(f.FileData, param+".file_data")
}
