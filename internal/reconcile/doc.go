// Package reconcile is the three-way sync of DESIGN.md: it reads what Git
// wants (a folder of specs at a commit), what the system holds, and what
// both looked like at the last sync, and plans per resource key what to do;
// then it applies the git → system half, resource by resource.
package reconcile
