package apiserver

import (
	"errors"
	"fmt"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// This file is the one place where errors become metav1.Status bodies
// (spec J0): the HTTP code equals status.code, and errors that are not API
// errors become 500 InternalError.

// toStatus turns any error into the Status upstream would send.
func toStatus(err error) *metav1.Status {
	var apiStatus apierrors.APIStatus
	if errors.As(err, &apiStatus) {
		st := apiStatus.Status()
		if st.Code == 0 {
			st.Code = http.StatusInternalServerError
		}
		st.Kind, st.APIVersion = "Status", "v1"
		st.Status = metav1.StatusFailure
		return &st
	}
	st := apierrors.NewInternalError(err).Status()
	st.Kind, st.APIVersion = "Status", "v1"
	return &st
}

// writeError writes err as a Status in the format the client accepts
// (JSON when it accepts nothing we know).
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	st := toStatus(err)
	if st.Code >= 500 && st.Code != http.StatusGatewayTimeout && st.Code != http.StatusServiceUnavailable {
		s.log.Error("internal error", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if st.Details != nil && st.Details.RetryAfterSeconds > 0 {
		w.Header().Set("Retry-After", fmt.Sprint(st.Details.RetryAfterSeconds))
	}
	s.writeStatusObject(w, r, int(st.Code), st)
}

func unauthorized() error {
	return apierrors.NewUnauthorized("Unauthorized")
}

func internalError(err error) error { return apierrors.NewInternalError(err) }

// reasonless is how upstream's handlers answer an error that is not an API
// status, e.g. an agent that cannot be reached: 500 with the error's text
// and no reason (ErrorToAPIStatus), unlike internalError's
// "Internal error occurred: ...".
func reasonless(err error) error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure, Code: http.StatusInternalServerError, Message: err.Error(),
	}}
}

// notFoundResource is spec J1c: an unknown URL or resource type.
func notFoundResource() error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure, Code: http.StatusNotFound, Reason: metav1.StatusReasonNotFound,
		Message: "the server could not find the requested resource",
		Details: &metav1.StatusDetails{},
	}}
}

// methodNotAllowed is spec J6.
func methodNotAllowed() error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure, Code: http.StatusMethodNotAllowed, Reason: metav1.StatusReasonMethodNotAllowed,
		Message: "the server does not allow this method on the requested resource",
		Details: &metav1.StatusDetails{},
	}}
}

// verbNotSupported is spec J6b.
func verbNotSupported(verb string, gr schema.GroupResource) error {
	return apierrors.NewMethodNotSupported(gr, verb)
}

func requestEntityTooLarge(limit int64) error {
	return apierrors.NewRequestEntityTooLargeError(fmt.Sprintf("limit is %d", limit))
}

func (s *Server) serveNotFound(w http.ResponseWriter, r *http.Request) {
	s.writeError(w, r, notFoundResource())
}

var schemaGroupResourceEmpty = schema.GroupResource{}
