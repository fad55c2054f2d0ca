// Progressive enhancement of the "Backup restore" step: sends the chosen file as the raw request body
// (application/octet-stream, streamed to disk by the server: no multipart parser involved), with progress, then
// opens the confirmation page. Without JavaScript the step offers a path on the server instead.
'use strict'
;(function () {
  var box = document.querySelector('[data-upload]')
  if (!box) return
  // The "Upload" choice is offered disabled without a script: enable it (setup.js shows the box when it is chosen).
  document.querySelectorAll('label[data-needs-script]').forEach(function (label) {
    var radio = label.querySelector('input[type=radio]')
    if (radio) radio.disabled = false
    label.classList.remove('choice-disabled')
    var note = label.querySelector('[data-script-note]')
    if (note) note.remove()
  })
  var input = box.querySelector('input[type=file]')
  var bar = box.querySelector('[data-upload-progress]')
  var status = box.querySelector('[data-upload-status]')
  var max = Number(box.getAttribute('data-max-bytes'))

  function say (text, isError) {
    status.textContent = text
    status.className = 'upload-status' + (isError ? ' error' : '')
  }

  input.addEventListener('change', function () {
    var file = input.files && input.files[0]
    if (!file) return
    if (max && file.size > max) return say(status.getAttribute('data-too-large'), true)
    var csrf = document.querySelector('input[name=_csrf]')
    var xhr = new XMLHttpRequest()
    xhr.open('POST', box.getAttribute('data-upload-url'))
    xhr.setRequestHeader('Content-Type', 'application/octet-stream')
    xhr.setRequestHeader('Accept', 'application/json')
    if (csrf) xhr.setRequestHeader('X-CSRF-Token', csrf.value)
    bar.hidden = false
    bar.value = 0
    say(status.getAttribute('data-sending'))
    xhr.upload.onprogress = function (e) {
      if (!e.lengthComputable) return
      bar.value = Math.floor(e.loaded * 100 / e.total)
      if (e.loaded === e.total) say(status.getAttribute('data-verifying'))
    }
    xhr.onload = function () {
      var answer = null
      try { answer = JSON.parse(xhr.responseText) } catch (e) {}
      if (xhr.status === 200 && answer && answer.location) {
        window.location.assign(answer.location)
        return
      }
      bar.hidden = true
      say(answer && answer.message ? answer.message : status.getAttribute('data-failed'), true)
    }
    xhr.onerror = function () {
      bar.hidden = true
      say(status.getAttribute('data-failed'), true)
    }
    xhr.send(file)
  })
})()
