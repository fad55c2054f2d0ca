// Progressive enhancement of the setup pages; every page works without it.
// 1. Inline tests: a click on a `button[name=_action]` whose value is `test` or `create` posts the whole form
//    (FormData: the CSRF field included) with fetch and `X-Requested-With: fetch`, then swaps the returned page's
//    `[data-test-result]` region and the field errors into this page, without a reload and keeping what was typed
//    (passwords included). Any step can use it by markup alone: a `[data-test-result]` region and such a button.
// 2. Provider groups: `[data-provider-group]` fieldsets follow the chosen `provider` radio, and the port follows
//    the provider's default (`data-default-ports`) while it still holds a default.
'use strict'
;(function () {
  var INLINE_ACTIONS = ['test', 'create']

  function swapById (from, to, id) {
    var fresh = from.getElementById(id)
    var old = document.getElementById(id)
    if (fresh && old) old.replaceWith(document.importNode(fresh, true))
    else if (old && !fresh) old.remove()
    return { fresh: fresh, old: old }
  }

  /** Field errors: classes, aria attributes and the error text of each `.field`/fieldset, by its input's id. */
  function syncField (doc, input) {
    var id = input.id
    var fresh = id ? doc.getElementById(id) : null
    var box = input.closest('.field, fieldset.choices')
    var freshBox = fresh ? fresh.closest('.field, fieldset.choices') : null
    if (!box || !freshBox) return
    box.className = freshBox.className
    ;['aria-invalid', 'aria-describedby'].forEach(function (name) {
      if (fresh.hasAttribute(name)) input.setAttribute(name, fresh.getAttribute(name))
      else input.removeAttribute(name)
    })
    var oldError = box.querySelector(':scope > .error')
    var newError = freshBox.querySelector(':scope > .error')
    if (oldError) oldError.remove()
    if (newError) {
      // Where the server puts it: before the input in a field, after the options in a radio group.
      var before = box.matches('.field') ? box.querySelector(':scope > .advice, :scope > input, :scope > .input-reveal') : null
      box.insertBefore(document.importNode(newError, true), before)
    }
    // Values the server filled in (a pasted URL parsed into the fields); passwords never come back.
    if (input.type === 'text' && fresh.value !== input.value && fresh.hasAttribute('value')) input.value = fresh.value
  }

  function applyResponse (form, html) {
    var doc = new DOMParser().parseFromString(html, 'text/html')
    var regions = form.querySelectorAll('[data-test-result]')
    var freshRegions = doc.querySelectorAll('[data-test-result]')
    regions.forEach(function (region, i) {
      if (freshRegions[i]) region.replaceWith(document.importNode(freshRegions[i], true))
    })
    swapById(doc, document, 'form-error')
    var freshError = doc.getElementById('form-error')
    if (freshError && !document.getElementById('form-error')) form.parentNode.insertBefore(document.importNode(freshError, true), form)
    form.querySelectorAll('input[id]').forEach(function (input) { syncField(doc, input) })
    // Hidden fields (a CSRF token the server renewed) follow the returned page.
    doc.querySelectorAll('#step-form input[type=hidden][name]').forEach(function (hidden) {
      var mine = form.querySelector('input[type=hidden][name="' + hidden.name + '"]')
      if (mine) mine.value = hidden.value
    })
    // Radios the server set (e.g. the TLS mode of a pasted URL).
    doc.querySelectorAll('input[type=radio][checked]').forEach(function (radio) {
      var mine = form.querySelector('input[type=radio][name="' + radio.name + '"][value="' + radio.value + '"]')
      if (mine && !mine.checked) { mine.checked = true; mine.dispatchEvent(new Event('change', { bubbles: true })) }
    })
  }

  document.addEventListener('click', function (event) {
    var button = event.target instanceof Element ? event.target.closest('button[name=_action]') : null
    if (!button || INLINE_ACTIONS.indexOf(button.value) === -1 || !button.form || !window.fetch) return
    var form = button.form
    if (!form.querySelector('[data-test-result]') && !document.querySelector('[data-test-result]')) return
    event.preventDefault()
    var body = new FormData(form)
    body.set('_action', button.value)
    if (button.getAttribute('aria-disabled') === 'true') return
    var region = form.querySelector('[data-test-result]')
    if (region) region.setAttribute('aria-busy', 'true')
    // Not `disabled`: a disabled button loses the focus (to <body>); aria-disabled keeps it where the person is.
    button.setAttribute('aria-disabled', 'true')
    button.setAttribute('aria-busy', 'true')
    fetch(form.action, {
      method: 'POST',
      body: new URLSearchParams(body),
      credentials: 'same-origin',
      headers: { 'X-Requested-With': 'fetch', Accept: 'text/html' }
    }).then(function (res) {
      // A redirect means the session ended (token gate): follow it as a page load would.
      if (res.redirected) { window.location.assign(res.url); return null }
      return res.text()
    }).then(function (html) {
      if (html !== null) applyResponse(form, html)
    }).catch(function () {
      // Network failure: fall back to the plain form submission.
      form.requestSubmit(button)
    }).finally(function () {
      button.removeAttribute('aria-disabled')
      button.removeAttribute('aria-busy')
      // The button may have been replaced with the result region: keep the focus on this action.
      var again = document.contains(button) ? button : form.querySelector('button[name=_action][value="' + button.value + '"]')
      if (again && document.activeElement === document.body) again.focus()
      var current = form.querySelector('[data-test-result]')
      if (current) current.removeAttribute('aria-busy')
    })
  })

  function providerGroups () {
    var form = document.getElementById('step-form')
    if (!form || !form.querySelector('[data-provider-group]')) return
    var server = form.querySelector('[data-provider-group=server]')
    var ports = {}
    try { ports = JSON.parse(server ? server.getAttribute('data-default-ports') || '{}' : '{}') } catch (e) {}
    var defaults = Object.keys(ports).map(function (k) { return String(ports[k]) })
    function update () {
      var chosen = form.querySelector('input[name=provider]:checked')
      var provider = chosen ? chosen.value : 'sqlite'
      form.querySelectorAll('[data-provider-group]').forEach(function (group) {
        var name = group.getAttribute('data-provider-group')
        group.hidden = name === 'sqlite' ? provider !== 'sqlite' : provider === 'sqlite'
      })
      var port = form.querySelector('input[name=port]')
      if (port && ports[provider] && (port.value === '' || defaults.indexOf(port.value) !== -1)) port.value = String(ports[provider])
    }
    form.addEventListener('change', function (event) {
      if (event.target instanceof HTMLInputElement && event.target.name === 'provider') update()
    })
    update()
  }

  // 3. `[data-show-when="name=a|b"]` parts show only while the radio `name` has one of those values
  //    (the cache backend's options, Redis by URL or by fields). Without JS every part stays visible.
  function conditionalParts () {
    var form = document.getElementById('step-form')
    if (!form) return
    var parts = form.querySelectorAll('[data-show-when]')
    if (parts.length === 0) return
    function update () {
      parts.forEach(function (part) {
        var rule = part.getAttribute('data-show-when').split('=')
        var chosen = form.querySelector('input[type=radio][name="' + rule[0] + '"]:checked')
        part.hidden = !chosen || rule[1].split('|').indexOf(chosen.value) === -1
      })
    }
    form.addEventListener('change', function (event) {
      if (event.target instanceof HTMLInputElement && event.target.type === 'radio') update()
    })
    update()
  }

  // 4. The error summary: focused when the page loads (the server marks it autofocus too), and its links move the
  //    focus to the field itself and bring its label into view (GOV.UK's error summary).
  function errorSummary () {
    var summary = document.querySelector('[data-error-summary]')
    if (summary && document.activeElement === document.body) summary.focus()
    document.addEventListener('click', function (event) {
      var link = event.target instanceof Element ? event.target.closest('[data-error-summary] a[href^="#"]') : null
      if (!link) return
      var target = document.getElementById(link.getAttribute('href').slice(1))
      if (!target) return
      event.preventDefault()
      var label = target.id ? document.querySelector('label[for="' + target.id + '"]') : null
      var legend = target.closest('fieldset') ? target.closest('fieldset').querySelector('legend') : null
      ;(label || legend || target).scrollIntoView({ block: 'start' })
      target.focus({ preventScroll: true })
    })
  }

  // 5. Show/Hide on password fields (`[data-reveal]` buttons, hidden without JS).
  function revealButtons () {
    // Masked again when the form is sent, so the browser never keeps a shown password as plain text.
    document.addEventListener('submit', function () {
      document.querySelectorAll('button[data-reveal]').forEach(function (button) {
        var input = document.getElementById(button.getAttribute('data-reveal'))
        if (input && input.type === 'text') input.type = 'password'
      })
    })
    document.querySelectorAll('button[data-reveal]').forEach(function (button) {
      var input = document.getElementById(button.getAttribute('data-reveal'))
      if (!input) return
      var show = button.firstChild.nodeValue
      var hide = button.getAttribute('data-hide') || show
      button.hidden = false
      button.addEventListener('click', function () {
        var shown = input.type === 'text'
        input.type = shown ? 'password' : 'text'
        button.firstChild.nodeValue = shown ? show : hide
      })
    })
  }

  // 6. "Suggest a strong password": 20 characters from 54 unambiguous letters and digits (115 bits), drawn with
  //    crypto.getRandomValues (rejection sampling, no modulo bias), in groups of five for reading; shown once.
  function generator () {
    var box = document.querySelector('[data-generate]')
    if (!box || !window.crypto || !window.crypto.getRandomValues) return
    var ALPHABET = 'abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789'
    box.hidden = false
    box.querySelector('[data-generate-button]').addEventListener('click', function () {
      var out = ''
      var buf = new Uint8Array(1)
      while (out.length < 20) {
        window.crypto.getRandomValues(buf)
        if (buf[0] < 256 - (256 % ALPHABET.length)) out += ALPHABET[buf[0] % ALPHABET.length]
      }
      var password = out.match(/.{5}/g).join('-')
      ;['f-password', 'f-confirm'].forEach(function (id) {
        var input = document.getElementById(id)
        if (!input) return
        input.value = password
        input.type = 'text'
        var toggle = document.querySelector('button[data-reveal="' + id + '"]')
        if (toggle) toggle.firstChild.nodeValue = toggle.getAttribute('data-hide') || toggle.firstChild.nodeValue
      })
      var status = box.querySelector('[data-generate-status]')
      status.textContent = status.getAttribute('data-done')
    })
  }

  // 7. The streamed install page, once complete (deferred scripts run when the stream has ended): its outcome
  //    moves to the top, takes the focus, and names the tab.
  function installResult () {
    var result = document.querySelector('.install-result')
    if (!result) return
    var main = document.getElementById('main')
    main.insertBefore(result, main.firstChild)
    var heading = result.querySelector('.install-heading')
    if (heading) {
      document.title = heading.textContent + document.title.replace(/^[^·]*/, ' ')
      heading.focus()
    }
  }

  function start () {
    providerGroups()
    conditionalParts()
    errorSummary()
    revealButtons()
    generator()
    installResult()
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start)
  else start()
})()
