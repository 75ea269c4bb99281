package adapter

import (
	"encoding/json"
	"errors"
	"fmt"

	"aigateway/internal/jsonlimit"
)

// TooDeepMessage is the client message for an upstream answer that nests
// JSON deeper than jsonlimit.MaxDepth.
func TooDeepMessage() string {
	return fmt.Sprintf("the upstream answer nests JSON deeper than the gateway's limit of %d levels", jsonlimit.MaxDepth)
}

// DecodeJSON decodes JSON from an upstream (or JSON a client put inside a
// string) into v, after checking it with jsonlimit.Validate. encoding/json
// alone accepts 10000 levels and recurses through them; the gateway allows
// no more depth from an upstream than from a client. The error is a
// *jsonlimit.Error when the check fails (TooDeep tells depth from syntax),
// else encoding/json's.
func DecodeJSON(data []byte, v any) error {
	if err := jsonlimit.Validate(data); err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}

// TooDeep reports whether err, from DecodeJSON or jsonlimit.Validate, is
// about nesting depth.
func TooDeep(err error) bool {
	var je *jsonlimit.Error
	return errors.As(err, &je) && je.TooDeep
}
