package api_test

import (
	"aigateway/internal/api"
	"aigateway/internal/inbound/geminiapi"
	"aigateway/internal/inbound/messages"
	"aigateway/internal/inbound/responses"
)

// defaultDialects are the inbound APIs of every test gateway, as
// cmd/aigateway serves them.
func defaultDialects() api.Dialects {
	return api.Dialects{
		Messages:  messages.Dialect{},
		Responses: responses.New(responses.Options{}),
		Gemini:    geminiapi.Dialect{},
	}
}
