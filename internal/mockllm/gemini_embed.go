package mockllm

import (
	"strconv"
)

// geminiEmbedRequest is an embedContent request, and one element of a
// batchEmbedContents request.
type geminiEmbedRequest struct {
	Model                string         `json:"model"`
	Content              *geminiContent `json:"content"`
	OutputDimensionality *int           `json:"outputDimensionality"`
	Mock                 *Directive     `json:"mock"`
}

type geminiBatchEmbedRequest struct {
	Requests []geminiEmbedRequest `json:"requests"`
	Mock     *Directive           `json:"mock"`
}

// check validates one request against the model of the URL and returns
// its dimension. field prefixes error messages. requireModel is set for
// batch elements, which Google rejects without a "models/<model>" name.
func (er *geminiEmbedRequest) check(model, field string, requireModel bool) (dims int, msg string) {
	switch {
	case er.Model == "" && !requireModel:
	case er.Model != "models/"+model:
		return 0, "* " + field + ".model: model must be \"models/" + model + "\" as in the URL, got " + strconv.Quote(er.Model) + "\n"
	}
	if er.Content == nil || len(er.Content.Parts) == 0 {
		return 0, "* " + field + ".content: contents is not specified\n"
	}
	if er.Content.text() == "" {
		return 0, "* " + field + ".content: text must not be empty\n"
	}
	dims = 8
	if er.OutputDimensionality != nil {
		dims = *er.OutputDimensionality
		if dims < 1 || dims > maxDimensions {
			return 0, "* " + field + ".output_dimensionality: must be between 1 and " + strconv.Itoa(maxDimensions) + "\n"
		}
	}
	return dims, ""
}

// appendEmbedding appends {"values":[...]}: the same vector /v1/embeddings
// gives for the concatenated text of the parts, so a translated request can
// be checked against the OpenAI answer.
func appendEmbedding(dst []byte, vec []float32, er *geminiEmbedRequest) []byte {
	embedVector(vec, promptInput{text: er.Content.text()})
	dst = append(dst, `{"values":`...)
	return append(appendVector(dst, vec), '}')
}

func (c *call) geminiEmbed(model string) error {
	var req geminiEmbedRequest
	if !c.geminiDecode(&req) {
		return nil
	}
	dims, msg := req.check(model, "EmbedContentRequest", false)
	if msg != "" {
		return c.geminiBad(msg)
	}
	d, ok := c.directive(req.Mock)
	if !ok {
		return nil
	}
	if done, err := c.start(d, false); done {
		return err
	}
	b := append(make([]byte, 0, 32+dims*12), `{"embedding":`...)
	b = appendEmbedding(b, make([]float32, dims), &req)
	b = append(b, "}\n"...)
	return c.writeWhole(d, geminiJSON, b)
}

func (c *call) geminiBatchEmbed(model string) error {
	var req geminiBatchEmbedRequest
	if !c.geminiDecode(&req) {
		return nil
	}
	if len(req.Requests) == 0 {
		return c.geminiBad("* BatchEmbedContentsRequest.requests: requests is not specified\n")
	}
	dims := make([]int, len(req.Requests))
	size := 0
	for i := range req.Requests {
		n, msg := req.Requests[i].check(model, "BatchEmbedContentsRequest.requests["+strconv.Itoa(i)+"]", true)
		if msg != "" {
			return c.geminiBad(msg)
		}
		dims[i] = n
		size += 16 + n*12
	}
	d, ok := c.directive(req.Mock)
	if !ok {
		return nil
	}
	if done, err := c.start(d, false); done {
		return err
	}
	var vec []float32
	b := append(make([]byte, 0, 32+size), `{"embeddings":[`...)
	for i := range req.Requests {
		if i > 0 {
			b = append(b, ',')
		}
		if cap(vec) < dims[i] {
			vec = make([]float32, dims[i])
		}
		b = appendEmbedding(b, vec[:dims[i]], &req.Requests[i])
	}
	b = append(b, "]}\n"...)
	return c.writeWhole(d, geminiJSON, b)
}
